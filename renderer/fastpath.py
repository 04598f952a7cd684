"""The no-op fast path: answer an unchanged `render` or `render --check` before importing anything heavy.

A full run that ends well (exit 0, no warnings) records, in the per-user cache and never in the
repository, a digest of everything that decides its answer (the command line, working directory,
values files and the remote lock beside them, the renderer's code, templates and schemas, the
installed distributions, Python, SKS_GITOPS_* settings) and a digest of each tree it rendered.
The next run with the same inputs hashes those trees on disk, by content; when every one matches, a
full run could only say the same thing, so the recorded answer is printed. Anything else (an option
this parser does not know, a missing or mismatched record, a symbolic link, an unreadable file)
falls through to the full run. Stdlib only: os, sys and the built-in sha256 (even json and hashlib
cost more than the whole answer).
"""

from __future__ import annotations

import os
import stat
import sys
import time

from renderer.cachedir import CACHE_ENV, NO_CACHE_ENV, cache_dir, prune, trusted, write_private

try:
    from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]  # CPython >= 3.12
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]  # CPython 3.11
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment,unused-ignore]

LOCK_NAME = "remote-manifests.lock.json"
"""renderer.remote's lock file; a test keeps the two names equal."""
FORMAT = "sks-gitops no-op record 1"
RACY_NS = 2_000_000_000
"""Code changed this close to a run may share its mtime with the version the run read: never record then."""
MAX_INPUT_BYTES = 1_000_000
"""renderer.loader's limit: a larger values file is the full run's to refuse, not this path's to hash."""
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


class Invocation:
    """The command lines answered here: `render [--check] [--strict] [--quiet] [--out DIR] [--set K=V]... FILES`."""

    __slots__ = ("mode", "out", "overrides", "quiet", "strict", "values")

    def __init__(self, mode: str, strict: bool, out: str, overrides: tuple[str, ...], values: tuple[str, ...],
                 quiet: bool = False):
        self.mode, self.strict, self.out = mode, strict, out
        self.overrides, self.values, self.quiet = overrides, values, quiet

    def text(self) -> str:
        """Unambiguous and path-normalised the same way for click's Paths and raw argv."""
        parts = [self.mode, str(self.strict), os.path.abspath(self.out), *(f"set {o}" for o in self.overrides),
                 *(f"values {os.path.abspath(v)}" for v in self.values), *(["quiet"] if self.quiet else [])]
        return "\0".join(f"{len(part)}:{part}" for part in parts)


def parse(argv: list[str]) -> Invocation | None:
    """Read argv as click would for the supported subset; None for anything else (click then decides)."""
    mode, strict, out, quiet = "write", False, "out", False
    overrides: list[str] = []
    values: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--check":
            mode = "check"
        elif token == "--strict":
            strict = True
        elif token in ("--quiet", "-q"):
            quiet = True
        elif token in ("--out", "--set"):
            value = next(tokens, None)
            if value is None:
                return None
            if token == "--out":
                out = value
            else:
                overrides.append(value)
        elif token.startswith("--out="):
            out = token[len("--out="):]
        elif token.startswith("--set="):
            overrides.append(token[len("--set="):])
        elif token.startswith("-"):
            return None
        else:
            values.append(token)
    if not values or not out.strip():
        return None
    return Invocation(mode, strict, out, tuple(overrides), tuple(values), quiet)


def _walk(top: str, found: list[tuple[str, os.stat_result]], code: bool = False) -> None:
    """Files below `top` with their lstat, sorted; `code` skips Python's byte-code caches."""
    with os.scandir(top) as entries:
        for entry in sorted(entries, key=lambda item: item.name):
            if code and (entry.name == "__pycache__" or entry.name.endswith(".pyc")):
                continue
            if entry.is_dir(follow_symlinks=False):
                _walk(entry.path, found, code)
            else:
                found.append((entry.path, entry.stat(follow_symlinks=False)))


def _data_dir(name: str) -> str:
    """As renderer.resources finds it: inside the installed package, else beside it in a checkout."""
    inside = os.path.join(_PACKAGE, name)
    return inside if os.path.isdir(inside) else os.path.join(os.path.dirname(_PACKAGE), name)


def _code_stamp() -> tuple[str, int]:
    """Code, templates and schemas by path, size, mtime and inode (as git's index does), and the newest mtime."""
    found: list[tuple[str, os.stat_result]] = []
    for top in (_PACKAGE, _data_dir("templates"), _data_dir("schemas")):
        _walk(top, found, code=True)
    lines = [f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ino}" for path, info in found]
    return "\n".join(lines), max((info.st_mtime_ns for _path, info in found), default=0)


def _distributions() -> str:
    names: list[str] = []
    for entry in sys.path:
        if os.path.basename(entry) in ("site-packages", "dist-packages") and os.path.isdir(entry):
            names.extend(f"{entry}/{name}" for name in sorted(os.listdir(entry))
                         if name.endswith((".dist-info", ".egg-info", ".pth")))
    return "\n".join(names)


def _read(path: str) -> bytes | None:
    """A regular file's bytes, or None when it is absent; anything else is an OSError (no fast answer)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_INPUT_BYTES:
        raise OSError(f"{path} is not a regular file of a values file's size")
    with open(path, "rb") as handle:
        return handle.read(MAX_INPUT_BYTES + 1)


def environment() -> tuple[list[str], int]:
    """What every answer depends on besides its own files (code, distributions, Python, working directory,
    SKS_GITOPS_* settings), and the newest code mtime in it."""
    code, newest = _code_stamp()
    settings = sorted(f"{key}={value}" for key, value in os.environ.items()
                      if key.startswith("SKS_GITOPS_") and key not in (CACHE_ENV, NO_CACHE_ENV))
    return [FORMAT, sys.version, sys.prefix, os.getcwd(), code, _distributions(), *settings], newest


def values_inputs(values: tuple[str, ...] | list[str]) -> list[bytes | None]:
    """The values files' bytes and the remote lock beside each (None when absent); a missing file is an OSError."""
    found: list[bytes | None] = []
    for value in values:
        data = _read(value)
        if data is None:
            raise OSError(f"{value} is missing")
        found.append(data)
    for folder in sorted({os.path.dirname(os.path.abspath(value)) for value in values}):
        found.append(_read(os.path.join(folder, LOCK_NAME)))
    return found


def digest_parts(parts: list[str] | list[bytes | None] | list[str | bytes | None]) -> str:
    """One sha256 over length-prefixed parts, so no two different lists share a digest."""
    digest = sha256()
    for part in parts:
        data = b"\xff" if part is None else part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(b"%d:" % len(data))
        digest.update(data)
    hexdigest: str = digest.hexdigest()
    return hexdigest


def inputs(invocation: Invocation) -> tuple[str, int]:
    """The digest of everything that decides a run's answer, and the newest code mtime in it."""
    shared, newest = environment()
    return digest_parts([*shared, invocation.text(), *values_inputs(invocation.values)]), newest


def tree_digest(cluster_dir: str) -> str:
    """Every file below OUT/CLUSTER by relative path and content. A symlink (the tree, a file in it, or OUT
    itself, which the full run refuses to write through) or a special file is an OSError."""
    lines: list[str] = []
    found: list[tuple[str, os.stat_result]] = []
    if any(os.path.islink(path) for path in (cluster_dir, os.path.dirname(cluster_dir))) or \
            not os.path.isdir(cluster_dir):
        raise OSError(f"{cluster_dir} is not a directory in a real output directory")
    _walk(cluster_dir, found)
    for path, info in found:
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        with open(path, "rb") as handle:
            lines.append(f"{os.path.relpath(path, cluster_dir)}\0{sha256(handle.read()).hexdigest()}")
    return digest_of_files(lines)


def digest_of_files(lines: list[str]) -> str:
    """One digest over `relative path NUL sha256(content)` lines, however they were gathered."""
    digest: str = sha256("\n".join(sorted(lines)).encode("utf-8", "surrogateescape")).hexdigest()
    return digest


class Pending:
    """What the full run needs to record its answer: the invocation and its inputs as they were at the start."""

    __slots__ = ("inputs", "invocation", "started_ns")

    def __init__(self, invocation: Invocation, inputs_digest: str, started_ns: int):
        self.invocation, self.inputs, self.started_ns = invocation, inputs_digest, started_ns


def _record_path(directory: str, invocation: Invocation) -> str:
    slot = sha256(f"{os.getcwd()}\0{invocation.text()}".encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return os.path.join(directory, "noop", slot)


def lookup(argv: list[str]) -> tuple[str | None, Pending | None]:
    """The recorded answer when it is certainly still true, else what a full run needs to record one."""
    directory = cache_dir()
    invocation = parse(argv)
    if directory is None or invocation is None:
        return None, None
    started = time.time_ns()
    digest, _newest = inputs(invocation)
    pending = Pending(invocation, digest, started)
    try:
        descriptor = os.open(_record_path(directory, invocation), os.O_RDONLY | os.O_NOFOLLOW)
        with open(descriptor, encoding="utf-8") as handle:
            if not trusted(os.fstat(descriptor)):
                return None, pending
            head, _, message = handle.read().partition("\n--\n")
    except OSError:  # absent, a symlink (ELOOP), a directory: no answer, but the full run may record one
        return None, pending
    lines = head.split("\n")
    if len(lines) < 3 or lines[0] != FORMAT or lines[1] != digest:
        return None, pending
    try:
        for line in lines[2:]:
            expected, _, cluster_dir = line.partition(" ")
            if tree_digest(cluster_dir) != expected:
                return None, pending
    except OSError:
        return None, pending
    return message, pending


def record(pending: Pending, trees: dict[str, str], message: str) -> bool:
    """Store the answer of a full run that rendered `trees` ({cluster dir: digest_of_files of the rendered bytes}).

    The trees are not re-read here: lookup() compares every one with the disk before answering, so a tree
    changed after this run (or by a concurrent one) only means no answer."""
    directory = cache_dir()
    if directory is None or any("\n" in cluster_dir or "\r" in cluster_dir for cluster_dir in trees):
        return False
    try:
        digest, newest = inputs(pending.invocation)
        if digest != pending.inputs or newest >= pending.started_ns - RACY_NS:
            return False  # an input changed during the run, or may have without changing its mtime
        body = "\n".join([FORMAT, digest, *(f"{expected} {cluster_dir}" for cluster_dir, expected
                                            in sorted(trees.items()))]) + "\n--\n" + message
        path = _record_path(directory, pending.invocation)
        write_private(path, body.encode("utf-8"))
        prune(os.path.dirname(path))
    except (OSError, ValueError):  # ValueError: a path that is not valid UTF-8 cannot be written as text
        return False  # the cache is an optimisation: a read-only or full disk only costs the next run time
    return True


def main() -> None:
    """The `render` command: the recorded answer when it holds, else the full CLI."""
    try:
        message, pending = lookup(sys.argv[1:])
    except (OSError, ValueError):
        message, pending = None, None
    if message is not None:
        sys.stderr.write(message)
        sys.stderr.flush()
        sys.exit(0)
    from renderer.cli import main as cli_main

    cli_main(obj=pending)
