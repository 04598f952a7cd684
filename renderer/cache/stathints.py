"""The per-user hint table: sha256 of a real path -> (stat, sha256 of the content): an unchanged input is
not read again.

A stat match only spares a re-read; it never proves a content on its own. It is sound because
nobody can set a ctime: any write gives the file a new one, even when the mtime is put back
(`touch -r`, `cp -p`, `rsync -t`, tar), and the hint holds size, mtime, ctime, inode and device. A
file whose ctime is within RACY_NS of the moment it was hashed gets no hint: a second write in the
same timestamp tick would keep every stat field (git's "racy clean" index entries). Stdlib only.
"""

import marshal
import os
import stat
import sys
import time

from renderer.cache.directory import cache_dir, trusted, write_private

TYPE_CHECKING = False  # not `from typing import`: the no-op path imports this module
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

try:  # the module of this version first: a module not found costs a search of every sys.path entry
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:
    from hashlib import sha256  # type: ignore[assignment,unused-ignore]

__all__ = ["RACY_NS", "Hints", "Stamp", "Watch", "hexdigest", "sha256", "stamp", "table", "unchanged"]

RACY_NS = 2_000_000_000
"""A file changed this close to its hashing may change again within the same timestamp tick: never hinted."""
MAX_BYTES = 64_000_000
"""No input is this large; a file that is means no cached answer (the full run decides)."""
MAX_HINTS = 50_000
FORMAT = "sks-gitops content hints 2"
"""2: paths kept as their sha256 (a file name can hold a secret, issue 21)."""


def hexdigest(data: bytes) -> str:
    """sha256 of `data`, by the built-in module (hashlib costs more to import than a whole cached answer)."""
    digest: str = sha256(data).hexdigest()
    return digest


class Hints:
    """The per-user table real path -> (stat, sha256). A stat match only spares a re-read; see the module doc."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.table: dict[str, tuple[str, str]] = {}
        self.used: set[str] = set()
        self.dirty = False
        self.reads = 0
        """Files read and hashed by this process (tests count work with it)."""
        self.newest_ns = 0
        """The newest ctime of the files asked for since the caller reset it (a write always sets it to now)."""
        self.watch = Watch()
        """Every file asked for (renderer.cache.inputs.Inputs starts a new one for each key it computes)."""
        if path is not None:
            self._load(path)

    def _load(self, path: str) -> None:
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with open(descriptor, "rb") as handle:
                if not trusted(os.fstat(descriptor)):
                    return  # a table others could write could forge any answer
                lines = handle.read().decode("utf-8", "surrogateescape").split("\n")
        except OSError:
            return
        if lines[0] != FORMAT:
            return
        for line in lines[1:]:
            fields = line.split("\0")
            if len(fields) == 3:
                self.table[fields[0]] = (fields[1], fields[2])

    def sha(self, real: str) -> str | None:
        """sha256 of the regular file at `real` (a resolved path), None when absent; OSError when unreadable,
        special or huge (no cached answer then)."""
        try:
            info = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            self.watch.saw(real, None)
            return None
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{real} is not a regular file")
        self.watch.saw(real, info)
        self.newest_ns = max(self.newest_ns, info.st_ctime_ns)
        key = _stat_key(info)
        slot = _path_key(real)
        self.used.add(slot)
        found = self.table.get(slot)
        if found is not None and found[0] == key:
            return found[1]
        now = time.time_ns()
        descriptor = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO swapped in never blocks
        with open(descriptor, "rb") as handle:
            before = os.fstat(descriptor)
            if not stat.S_ISREG(before.st_mode):
                raise OSError(f"{real} is not a regular file")
            data = handle.read(MAX_BYTES + 1)
            after = os.fstat(descriptor)
        if len(data) > MAX_BYTES:
            raise OSError(f"{real} is larger than any input")
        self.reads += 1
        digest = hexdigest(data)
        settled = max(after.st_ctime_ns, after.st_mtime_ns) < now - RACY_NS
        steady = _stat_key(before) == _stat_key(after) == key
        if not steady:
            self.watch.stats[real] = CHANGING  # which content was read is unknown: no stat stands for it
        if steady and settled:
            self.table[slot] = (key, digest)
            self.dirty = True
        else:
            self.table.pop(slot, None)
        return digest

    def save(self) -> None:
        """Write the table back when it learnt something; the hints of this run first, then older ones."""
        if self.path is None or not self.dirty:
            return
        ordered = sorted(self.table, key=lambda path: path not in self.used)[:MAX_HINTS]
        body = "\n".join([FORMAT, *(f"{path}\0{self.table[path][0]}\0{self.table[path][1]}" for path in ordered
                                          if "\n" not in path and "\0" not in path)])
        try:
            write_private(self.path, body.encode("utf-8", "surrogateescape"))
        except OSError:
            return  # an optimisation only: an unwritable cache costs the next run a re-read
        self.dirty = False


def _path_key(real: str) -> str:
    """The table's key for a path: its sha256, so the table on disk holds no file name (one can hold a secret)."""
    return hexdigest(real.encode("utf-8", "surrogateescape"))


def _stat_key(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}:{info.st_dev}"


Stamp = tuple[int, int, int]
"""What a Watch compares of a path: the ctime, which any change of the content, size, mode, owner or times moves
(and nobody can set), and the inode and device, which name the object (another file put in its place differs)."""
CHANGING: Stamp = (-1, -1, -1)
"""Never a stat's: a file that changed while it was read matches nothing later."""


def stamp(info: os.stat_result) -> Stamp:
    return info.st_ctime_ns, info.st_ino, info.st_dev


def settled(stamps: "Iterable[Stamp]", before_ns: int) -> bool:
    """Whether every stamp has a ctime older than `before_ns`: a write within the same timestamp tick as the
    one it records would keep it."""
    return all(0 <= ctime < before_ns for ctime, _inode, _device in stamps)


def stamps_text(stamps: "Iterable[Stamp]") -> str:
    """Stamps as a record keeps them: compared as text, never read back (parsing a thousand ctimes costs more than
    stat-ing as many files). marshal version 2 writes no references, so equal stamps give equal text."""
    return marshal.dumps(list(stamps), 2).hex()


class Watch:
    """Everything a key was computed from on disk, as stat saw it: each path looked at (a file read, a directory
    listed, a path probed) with its Stamp (None when it was not there), and each path resolved with
    os.path.realpath, with what it resolved to.

    When every path stats the same and resolves the same again, the key is the same: the argument of the hint
    table (module doc) for each file, and for each directory too, as adding, removing or renaming an entry
    gives the directory a new mtime and ctime."""

    __slots__ = ("reals", "stats")

    def __init__(self) -> None:
        self.stats: dict[str, Stamp | None] = {}
        self.reals: dict[str, str] = {}

    def saw(self, path: str, info: os.stat_result | None) -> None:
        self.stats[path] = None if info is None else (info.st_ctime_ns, info.st_ino, info.st_dev)

    def stat(self, path: str) -> os.stat_result | None:
        """os.stat(path), noted; None when absent."""
        try:
            info: os.stat_result | None = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            info = None
        self.saw(path, info)
        return info

    def realpath(self, path: str) -> str:
        """os.path.realpath(path), noted."""
        real = self.reals[path] = os.path.realpath(path)
        return real


def unchanged(present: list[str], stamps: str, absent: list[str], linked: list[str], reals: list[str]) -> bool:
    """Whether the paths `present` still stat as `stamps` (stamps_text) says, each of `absent` is still not there
    and each of `linked` still resolves to `reals` (a Watch taken apart). OSError when one cannot be looked at."""
    try:  # map and a comprehension: this line is most of an unchanged run's own work
        if stamps_text([(info.st_ctime_ns, info.st_ino, info.st_dev) for info in map(os.stat, present)]) != stamps:
            return False
    except (FileNotFoundError, NotADirectoryError):
        return False
    for path in absent:
        try:
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        return False
    resolve = _resolver()
    return len(linked) == len(reals) and all(resolve(path) == real for path, real in zip(linked, reals, strict=True))


def _resolver() -> "Callable[[str], str]":
    """os.path.realpath, each folder resolved once: the realpath of a name in a resolved folder is that folder's
    name joined with it, or where it links to."""
    known: dict[str, str] = {}

    def resolve(path: str) -> str:
        folder, name = os.path.split(path)
        if not folder or not name or name in (".", "..") or folder == path:
            return os.path.realpath(path)
        real = known.get(folder)
        if real is None:
            real = known[folder] = resolve(folder)
        candidate = os.path.join(real, name)
        return os.path.realpath(candidate) if os.path.islink(candidate) else candidate

    return resolve


_HINTS: list[Hints] = []


def table() -> Hints:
    """This process's hint table for the current cache directory (an empty, unsaved one when caching is off)."""
    directory = cache_dir()
    path = None if directory is None else os.path.join(directory, "hints")
    if not _HINTS or _HINTS[0].path != path:
        _HINTS[:] = [Hints(path)]
    return _HINTS[0]
