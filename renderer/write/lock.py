"""The output lock of each cluster tree (OUT/.<cluster>.lock), and recovery of what a killed render left.

A render holds the lock exclusively while it recovers, compares, assembles and swaps the tree; a
`--check` or `--diff` holds it shared while it reads the tree, so it never sees a swap half done
(a render and a check racing once ended in an internal error). Another render holding it fails a
render at once, with a clear message; readers and writers wait for each other, up to LOCK_WAIT_S.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from renderer.errors import OutputError, Problem

LOCK_WAIT_S = 30.0
"""How long a render waits for `--check`s reading a tree, and a `--check` for a render writing it."""


def _open(out_root: Path, cluster: str, write: bool = True) -> int | None:
    """The cluster's lock file, opened for writing (created if need be) by a render; a reader opens it for
    reading, creating it only when OUT is writable (else None: the tree is read without a lock)."""
    lock_path = out_root / f".{cluster}.lock"
    flags = os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if write:
            handle = os.open(lock_path, flags | os.O_RDWR | os.O_CREAT, 0o644)
        else:
            try:
                handle = os.open(lock_path, flags | os.O_RDONLY)
            except FileNotFoundError:
                if not os.access(out_root, os.W_OK):
                    return None
                handle = os.open(lock_path, flags | os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(Problem(str(lock_path), 0, 0, "", "is a symbolic link; refusing to follow it")) from None
        raise
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise IsADirectoryError(errno.EISDIR, "the lock is not a regular file", str(lock_path))
    return handle


def _try(handle: int, operation: int) -> bool:
    try:
        fcntl.flock(handle, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _waited_too_long(out_root: Path, cluster: str, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise OutputError(Problem(str(out_root / cluster), 0, 0, "",
                                  f"the lock {out_root / f'.{cluster}.lock'} was held for more than "
                                  f"{LOCK_WAIT_S:.0f} s; try again when the other render has finished"))
    time.sleep(0.005)


@contextmanager
def exclusive(out_root: Path, cluster: str) -> Iterator[None]:
    """The cluster's lock, exclusive: another render holding it fails this one at once (the loser gets a
    clear message); `--check`s holding it shared (reading the tree for a few ms) are waited for."""
    handle = _open(out_root, cluster)
    assert handle is not None
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while not _try(handle, fcntl.LOCK_EX):
            if not _try(handle, fcntl.LOCK_SH):  # not even shared: a render holds it exclusively
                raise OutputError(Problem(str(out_root / cluster), 0, 0, "",
                                          f"another render of {cluster} is running (lock "
                                          f"{out_root / f'.{cluster}.lock'} is held); try again when it has finished"))
            fcntl.flock(handle, fcntl.LOCK_UN)
            _waited_too_long(out_root, cluster, deadline)
        yield
    finally:
        os.close(handle)


@contextmanager
def shared(out_root: Path, cluster: str) -> Iterator[None]:
    """The cluster's lock, shared, for reading its tree (`--check`, `--diff`): waits while a render writes it,
    and first recovers what a killed render left, as a render would. Without a lock file that can be
    created (a read-only OUT), the tree is read without one."""
    handle = _open(out_root, cluster, write=False)
    if handle is None:
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            if _try(handle, fcntl.LOCK_EX):
                recover(out_root, cluster)
                fcntl.flock(handle, fcntl.LOCK_UN)
            if _try(handle, fcntl.LOCK_SH):
                if not leftovers(out_root, cluster):
                    break
                fcntl.flock(handle, fcntl.LOCK_UN)  # a render was killed after we recovered: recover again
            _waited_too_long(out_root, cluster, deadline)
        yield
    finally:
        os.close(handle)


def leftovers(out_root: Path, cluster: str) -> list[str]:
    """One listing of out_root, matched by prefix: a fleet's out_root holds every cluster, and globbing it
    twice per cluster made writing a fleet quadratic."""
    old, tmp = f".{cluster}.old-", f".{cluster}.tmp-"
    with os.scandir(out_root) as entries:
        return sorted(entry.name for entry in entries if entry.name.startswith((old, tmp)))


def recover(out_root: Path, cluster: str) -> None:
    """Undo what a killed render left: restore a parked old tree, drop temporary trees."""
    cluster_dir = out_root / cluster
    for name in leftovers(out_root, cluster):
        leftover = out_root / name
        if name.startswith(f".{cluster}.old-") and not cluster_dir.exists():
            os.rename(leftover, cluster_dir)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
