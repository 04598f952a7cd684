"""`render` with a pause before each file it writes, so a test can SIGKILL it mid-write or race it.

Usage: python tests/support/slow_render.py SECONDS [render arguments...]. The pause is patched into
this process only (renderer/write has no test hook of its own): every file the write stage creates
(`open`) or carries over (`shutil.copy2`) waits SECONDS first.
"""

from __future__ import annotations

import builtins
import shutil
import sys
import time
from typing import Any

import renderer.write
from renderer.cli import main

_open, _copy2 = builtins.open, shutil.copy2


def _slow_open(*args: Any, **kwargs: Any) -> Any:
    time.sleep(PAUSE)
    return _open(*args, **kwargs)


def _slow_copy2(*args: Any, **kwargs: Any) -> Any:
    time.sleep(PAUSE)
    return _copy2(*args, **kwargs)


if __name__ == "__main__":
    PAUSE = float(sys.argv[1])
    del sys.argv[1]
    renderer.write.open = _slow_open  # type: ignore[attr-defined]  # shadows the builtin in that module only
    shutil.copy2 = _slow_copy2  # type: ignore[assignment]
    main()
