"""Digests of output trees as git sees them (path, executable bit, content), read under the output lock.

Both cached answers compare a recorded digest with the tree on disk before they answer: the no-op
record (noop.py) for every tree of the run, per-cluster reuse (clusters.py) for one. Stdlib only.
"""

import fcntl
import os
import stat

from renderer.cache import stathints

TYPE_CHECKING = False  # not `from typing import`: the no-op path imports this module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

RACY_NS = 2_000_000_000
"""An input changed this close to a run's start may have changed while the run read it: never record then."""


Seen = dict[str, stathints.Stamp]
"""Each directory and file of a tree (path below it, "" for the tree itself) -> its lstat's stathints.stamp:
what the tree's digest was computed from, so an unchanged tree can later be known by lstat alone."""


def _walk(top: str, prefix: str, found: list[tuple[str, str]], seen: Seen | None) -> None:
    """(path below the tree, path) of every entry that is not a directory; unsorted (digest_of_files sorts)."""
    if seen is not None:
        seen[prefix[:-1]] = stathints.stamp(os.lstat(top))  # before listing: an entry added after moves it
    with os.scandir(top) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _walk(entry.path, f"{prefix}{entry.name}/", found, seen)
            else:
                found.append((prefix + entry.name, entry.path))


def _tree_file(path: str) -> tuple[bool, str, os.stat_result]:
    """(executable, sha256, stat before reading) of a regular file; a symlink, special file or a file changing
    under us: OSError."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        data = os.read(descriptor, info.st_size + 1)
        if len(data) != info.st_size:
            raise OSError(f"{path} changed while it was read")
    finally:
        os.close(descriptor)
    return bool(info.st_mode & stat.S_IXUSR), stathints.hexdigest(data), info


def tree_line(path: str, executable: bool, sha: str) -> str:
    """One file of a tree: what git records of it (path, executable bit, content)."""
    return f"{path}\0{'x' if executable else '-'}\0{sha}"


def tree_digest(cluster_dir: str, seen: Seen | None = None) -> str:
    """Every file below OUT/CLUSTER by relative path, executable bit and content. A symlink (the tree, a file
    in it, or OUT itself, which the full run refuses to write through) or a special file is an OSError.
    `seen` gets what each file and directory looked like (Seen)."""
    if any(os.path.islink(path) for path in (cluster_dir, os.path.dirname(cluster_dir))) or \
            not os.path.isdir(cluster_dir):
        raise OSError(f"{cluster_dir} is not a directory in a real output directory")
    found: list[tuple[str, str]] = []
    _walk(cluster_dir, "", found, seen)
    lines = []
    for name, path in found:
        executable, sha, info = _tree_file(path)
        lines.append(tree_line(name, executable, sha))
        if seen is not None:
            seen[name] = stathints.stamp(info)
    return digest_of_files(lines)


def tree_unchanged(cluster_dir: str, names: list[str], stamps: str) -> bool:
    """Whether the tree holds what it held when a Seen was taken (by tree_digest; its names and stamps_text), by
    lstat alone: a file's ctime moves with any write (stathints), a directory's with any entry added, removed or
    renamed."""
    if os.path.islink(os.path.dirname(cluster_dir)):
        raise OSError(f"{cluster_dir} is not in a real output directory")
    try:
        now = [(info.st_ctime_ns, info.st_ino, info.st_dev)
               for info in map(os.lstat, [f"{cluster_dir}/{name}" if name else cluster_dir for name in names])]
    except (FileNotFoundError, NotADirectoryError):
        return False
    return bool(names) and stathints.stamps_text(now) == stamps


def digest_of_files(lines: list[str]) -> str:
    """One digest over tree_line()s, however they were gathered."""
    return stathints.hexdigest("\n".join(sorted(lines)).encode("utf-8", "surrogateescape"))


def locked_tree_digest(cluster_dir: str, seen: Seen | None = None) -> str:
    """tree_digest() under the cluster's output lock, shared as `render --check` takes it (renderer.write.lock):
    a render holding it is swapping the tree, so there is no answer (OSError) until it is done. A lock that
    is not empty records trees a killed render left (or that could not be removed): the full run recovers
    or reports them, so no recorded answer may stand in for it. O_NONBLOCK: a FIFO never blocks the open."""
    return _under_lock(cluster_dir, lambda: tree_digest(cluster_dir, seen))


def locked_tree_unchanged(cluster_dir: str, names: list[str], stamps: str) -> bool:
    """tree_unchanged() under the cluster's output lock, as locked_tree_digest() reads the tree."""
    return _under_lock(cluster_dir, lambda: tree_unchanged(cluster_dir, names, stamps))


def _under_lock(cluster_dir: str, look: "Callable[[], T]") -> "T":
    out_root, cluster = os.path.split(cluster_dir)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    descriptor = os.open(os.path.join(out_root, f".{cluster}.lock"), flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"the lock of {cluster_dir} is not a regular file")  # the full run refuses it
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        if os.fstat(descriptor).st_size:
            raise OSError(f"the lock of {cluster_dir} records leftovers of a killed render")
        return look()
    finally:
        os.close(descriptor)
