"""The output lock of each cluster tree (OUT/.<cluster>.lock), and recovery of what a killed render left.

A render holds the lock exclusively while it recovers, compares, assembles and swaps the tree; a
`--check` or `--diff` holds it shared while it reads the tree, so it never sees a swap half done
(a render and a check racing once ended in an internal error). Another render holding it fails a
render at once, with a clear message; readers and writers wait for each other, up to LOCK_WAIT_S.

The lock file also records, one name a line, every temporary or parked tree the render holding it
creates, before creating it; recovery removes only what is recorded there, so a user's folder that
merely looks like one (`.<cluster>.tmp-notes`) is never touched. A recorded tree that cannot be
removed is marked stuck: reported (see `Held.stuck`) with the command that clears it, never waited for.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shlex
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from renderer.errors import OutputError, Problem

LOCK_WAIT_S = 30.0
"""How long a render waits for `--check`s reading a tree, and a `--check` for a render writing it."""

KINDS = ("tmp", "old")
"""The trees a render makes beside OUT/<cluster>: `.<cluster>.tmp-*` (staging), `.<cluster>.old-*` (parked)."""

_STUCK = "stuck "
_MAX_RECORD = 64 * 1024


@dataclass
class Stuck:
    """A recorded tree recovery could not remove: where, why, and the command that clears it."""

    path: Path
    reason: str

    @property
    def command(self) -> str:
        quoted = shlex.quote(str(self.path))
        return f"chmod -R u+w {quoted} && rm -rf {quoted}"


@dataclass
class Held:
    """The lock as held: its descriptor and the recorded trees that could not be removed."""

    handle: int
    out_root: Path
    cluster: str
    stuck: list[Stuck] = field(default_factory=list)

    def note(self, name: str) -> None:
        """Record a tree this render is about to create (exclusive holders only; stuck entries stay stuck)."""
        _write_record(self.handle, [*_lines(self.handle), name])

    def forget(self, name: str) -> None:
        _write_record(self.handle, [line for line in _lines(self.handle) if line != name])


def lock_path(out_root: Path, cluster: str) -> Path:
    return out_root / f".{cluster}.lock"


def _open(out_root: Path, cluster: str, write: bool = True) -> int | None:
    """The cluster's lock file, opened for writing (created if need be) by a render; a reader opens it for
    reading, creating it only when OUT is writable (else None: the tree is read without a lock).
    O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever."""
    path = lock_path(out_root, cluster)
    flags = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        if write:
            handle = os.open(path, flags | os.O_RDWR | os.O_CREAT, 0o644)
        else:
            try:
                try:
                    handle = os.open(path, flags | os.O_RDWR)  # recovery rewrites the record
                except PermissionError:
                    handle = os.open(path, flags | os.O_RDONLY)
            except FileNotFoundError:
                if not os.access(out_root, os.W_OK):
                    return None
                handle = os.open(path, flags | os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(Problem(str(path), 0, 0, "", "is a symbolic link; refusing to follow it")) from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            raise OutputError(Problem(str(path), 0, 0, "", "the lock is not a regular file; remove it")) from None
        raise
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise OutputError(Problem(str(path), 0, 0, "", "the lock is not a regular file; remove it"))
    return handle


def _valid(name: str, cluster: str) -> bool:
    return name.startswith(tuple(f".{cluster}.{kind}-" for kind in KINDS)) and "/" not in name and "\0" not in name


def _lines(handle: int) -> list[str]:
    data = os.pread(handle, _MAX_RECORD, 0)
    return data.decode("utf-8", "replace").splitlines()


def _read_record(handle: int, cluster: str) -> list[str]:
    """The recorded trees (stuck or not), in order; lines that cannot be ours are ignored."""
    names = [line.removeprefix(_STUCK) for line in _lines(handle)]
    return [name for name in dict.fromkeys(names) if _valid(name, cluster)]


def _pending(handle: int, cluster: str) -> list[str]:
    """Recorded trees not yet marked stuck: a killed render's, to recover before reading the tree."""
    return [line for line in _lines(handle) if not line.startswith(_STUCK) and _valid(line, cluster)]


def _stuck_on_record(handle: int, out_root: Path, cluster: str) -> list[Stuck]:
    return [Stuck(out_root / line.removeprefix(_STUCK), "it could not be removed")
            for line in _lines(handle) if line.startswith(_STUCK) and _valid(line.removeprefix(_STUCK), cluster)
            and os.path.lexists(out_root / line.removeprefix(_STUCK))]


def _write_record(handle: int, lines: list[str]) -> None:
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    if data == os.pread(handle, _MAX_RECORD, 0):
        return  # unchanged: nothing to write (and a read-only lock file cannot be written)
    os.ftruncate(handle, 0)
    if data:
        os.pwrite(handle, data, 0)


def _try(handle: int, operation: int) -> bool:
    try:
        fcntl.flock(handle, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _waited_too_long(out_root: Path, cluster: str, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise OutputError(Problem(str(out_root / cluster), 0, 0, "",
                                  f"the lock {lock_path(out_root, cluster)} was held for more than "
                                  f"{LOCK_WAIT_S:.0f} s; try again when the other render has finished"))
    time.sleep(0.005)


@contextmanager
def exclusive(out_root: Path, cluster: str) -> Iterator[Held]:
    """The cluster's lock, exclusive, after recovering what a killed render left: another render holding it
    fails this one at once (the loser gets a clear message); `--check`s holding it shared (reading the
    tree for a few ms) are waited for."""
    handle = _open(out_root, cluster)
    assert handle is not None
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while not _try(handle, fcntl.LOCK_EX):
            if not _try(handle, fcntl.LOCK_SH):  # not even shared: a render holds it exclusively
                raise OutputError(Problem(str(out_root / cluster), 0, 0, "",
                                          f"another render of {cluster} is running (lock "
                                          f"{lock_path(out_root, cluster)} is held); try again when it has finished"))
            fcntl.flock(handle, fcntl.LOCK_UN)
            _waited_too_long(out_root, cluster, deadline)
        yield Held(handle, out_root, cluster, recover(handle, out_root, cluster))
    finally:
        os.close(handle)


@contextmanager
def shared(out_root: Path, cluster: str) -> Iterator[Held | None]:
    """The cluster's lock, shared, for reading its tree (`--check`, `--diff`): waits while a render writes it,
    and first recovers what a killed render left, as a render would. Without a lock file that can be
    created (a read-only OUT), the tree is read without one (None)."""
    handle = _open(out_root, cluster, write=False)
    if handle is None:
        yield None
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        recovered: list[Stuck] | None = None
        while True:
            if _try(handle, fcntl.LOCK_EX):
                recovered = recover(handle, out_root, cluster)
                fcntl.flock(handle, fcntl.LOCK_UN)
            if _try(handle, fcntl.LOCK_SH):
                if not _pending(handle, cluster):
                    break
                fcntl.flock(handle, fcntl.LOCK_UN)  # a render was killed after we recovered: recover again
            _waited_too_long(out_root, cluster, deadline)
        on_record = _stuck_on_record(handle, out_root, cluster)
        reasons = {item.path: item.reason for item in recovered or []}
        yield Held(handle, out_root, cluster, [Stuck(item.path, reasons.get(item.path, item.reason))
                                               for item in on_record])
    finally:
        os.close(handle)


def _remove(path: Path) -> str | None:
    """Remove a recorded tree; the reason it could not be, or None."""
    failures: list[str] = []

    def failed(_function: object, _path: str, info: tuple[type, BaseException, object]) -> None:
        failures.append(str(getattr(info[1], "strerror", None) or info[1]))

    if path.is_symlink() or not path.is_dir():
        return "it is not a directory any more"
    shutil.rmtree(path, onerror=failed)
    return (failures[0] if failures else "it could not be removed") if os.path.lexists(path) else None


def recover(handle: int, out_root: Path, cluster: str) -> list[Stuck]:
    """Undo what a killed render left (caller holds the lock exclusively): restore its parked old tree, drop
    its temporary trees. Only the trees on record are touched; what cannot be removed stays recorded, stuck."""
    cluster_dir = out_root / cluster
    stuck: list[Stuck] = []
    for name in _read_record(handle, cluster):
        leftover = out_root / name
        if not os.path.lexists(leftover):
            continue
        if name.startswith(f".{cluster}.old-") and not os.path.lexists(cluster_dir):
            os.rename(leftover, cluster_dir)
            continue
        reason = _remove(leftover)
        if reason is not None:
            stuck.append(Stuck(leftover, reason))
    _write_record(handle, [f"{_STUCK}{item.path.name}" for item in stuck])
    return stuck
