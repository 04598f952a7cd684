"""What is on disk under a directory, to prove that a refused render changed nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

Snapshot = dict[str, tuple[str, Any, int]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under root, without following links: kind, content (bytes or link target), mtime."""
    found: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path), info.st_mtime_ns)
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", None, 0)  # a directory's mtime moves when a staging dir comes and goes
            elif stat.S_ISREG(info.st_mode) and name.startswith(".") and name.endswith(".lock"):
                found[rel] = ("file", path.read_bytes(), 0)  # an output lock records a render's trees as it goes
            elif stat.S_ISREG(info.st_mode):
                found[rel] = ("file", path.read_bytes(), info.st_mtime_ns)
            else:
                found[rel] = ("special", None, info.st_mtime_ns)
    return found
