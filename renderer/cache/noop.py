"""The no-op fast path: answer an unchanged `render` or `render --check` before importing anything heavy.

A full run that ends well (exit 0, no warnings) records, in the per-user cache and never in the
repository, the key of its inputs (renderer.cache.inputs: the command line and every file and setting that
decides the answer, by content) and a digest of each tree it rendered (paths, executable bits and
contents). The next run with the same key hashes those trees on disk, each under its output lock;
when every one matches, a full run could only say the same thing, so the recorded answer is printed.
Anything else (an option this parser does not know, a missing or mismatched record, a symbolic link,
an unreadable file, a render holding a lock, the leftover of a killed render that the full run would
recover) falls through to the full run. The CLI's entry point (renderer/cli/__init__.py) asks here before
it imports anything heavy. Stdlib only: os, fcntl and the built-in sha256 (even
json and hashlib cost more than the whole answer).
"""

from __future__ import annotations

import os
import time

from renderer import repository
from renderer.cache import inputs, stathints, trees
from renderer.cache.directory import cache_dir, prune, trusted, write_private

FORMAT = "sks-gitops no-op record 2"


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
    mode, strict, quiet = "write", False, False
    out: str | None = None
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
    if out is None:
        out = repository.default_out()  # as the command resolves it: out/ at the repository's root
    if not values or not out.strip():  # an explicit empty --out is the command's usage error
        return None
    return Invocation(mode, strict, out, tuple(overrides), tuple(values), quiet)


class Pending:
    """What the full run needs to record its answer: the invocation, and its inputs as they were at the start."""

    __slots__ = ("invocation", "start_key", "started_ns")

    def __init__(self, invocation: Invocation, start_key: str, started_ns: int):
        self.invocation, self.start_key, self.started_ns = invocation, start_key, started_ns


def query(invocation: Invocation, data_files: tuple[str, ...] | list[str] = ()) -> inputs.Query:
    return inputs.Query(invocation.values, [invocation.text()], data_files)


def _record_path(directory: str, invocation: Invocation) -> str:
    slot = stathints.hexdigest(f"{os.getcwd()}\0{invocation.text()}".encode("utf-8", "surrogateescape"))[:40]
    return os.path.join(directory, "noop", slot)


def _read_record(path: str) -> tuple[str, list[str], list[tuple[str, str]], str] | None:
    """(key, data files, [(expected tree digest, cluster dir)], message) of a trusted record, else None."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with open(descriptor, encoding="utf-8") as handle:
            if not trusted(os.fstat(descriptor)):
                return None
            head, separator, message = handle.read().partition("\n--\n")
    except (OSError, ValueError):  # absent, a symlink (ELOOP), a directory, not UTF-8: no answer
        return None
    lines = head.split("\n")
    if not separator or len(lines) < 3 or lines[0] != FORMAT:
        return None
    data = [line[2:] for line in lines[2:] if line.startswith("D ")]
    recorded = [tuple(line[2:].split(" ", 1)) for line in lines[2:] if line.startswith("T ")]
    if len(data) + len(recorded) != len(lines) - 2 or not recorded or any(len(tree) != 2 for tree in recorded):
        return None
    return lines[1], data, [(tree[0], tree[1]) for tree in recorded], message


def lookup(argv: list[str]) -> tuple[str | None, Pending | None]:
    """The recorded answer when it is certainly still true, else what a full run needs to record one."""
    directory = cache_dir()
    invocation = parse(argv)
    if directory is None or invocation is None:
        return None, None
    started = time.time_ns()
    current = inputs.Inputs()
    pending = Pending(invocation, current.key(query(invocation)), started)
    found = _read_record(_record_path(directory, invocation))
    try:
        if found is None or current.key(query(invocation, found[1])) != found[0]:
            return None, pending
        for expected, cluster_dir in found[2]:
            if trees.locked_tree_digest(cluster_dir) != expected:
                return None, pending
    except OSError:
        return None, pending
    finally:
        current.save()
    return found[3], pending


def record(pending: Pending, rendered: dict[str, str], data_files: list[str], message: str) -> bool:
    """Store the answer of a full run that rendered the trees `rendered` ({cluster dir: digest_of_files of
    the rendered tree}) and read the installed `data_files`.

    The trees are not re-read here: lookup() compares every one with the disk before answering, so a tree
    changed after this run (or by a concurrent one) only means no answer."""
    directory = cache_dir()
    texts = [*rendered, *data_files]
    if directory is None or any("\n" in text or "\r" in text for text in texts):
        return False
    try:
        current = inputs.Inputs()
        if current.key(query(pending.invocation)) != pending.start_key:
            return False  # an input changed during the run
        key = current.key(query(pending.invocation, data_files))
        if current.newest_ns >= pending.started_ns - trees.RACY_NS:
            return False  # an input was written during the run (and maybe put back), or just before it
        current.save()
        body = "\n".join([FORMAT, key, *(f"D {path}" for path in data_files),
                          *(f"T {expected} {cluster_dir}" for cluster_dir, expected in sorted(rendered.items()))])
        path = _record_path(directory, pending.invocation)
        write_private(path, (body + "\n--\n" + message).encode("utf-8"))
        prune(os.path.dirname(path))
    except (OSError, ValueError):  # ValueError: a path that is not valid UTF-8 cannot be written as text
        return False  # the cache is an optimisation: a read-only or full disk only costs the next run time
    return True
