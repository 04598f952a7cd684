"""The no-op fast path: answer an unchanged `render` or `render --check` before importing anything heavy.

A full run that ends well (exit 0, no warnings) records, in the per-user cache and never in the
repository, the key of its inputs (renderer.cache.inputs: the command line and every file and setting that
decides the answer, by content) and a digest of each tree it rendered (paths, executable bits and
contents). The next run with the same key hashes those trees on disk, each under its output lock;
when every one matches, a full run could only say the same thing, so the recorded answer is printed.
Once what the key and the trees were computed from has settled (nothing in it written within RACY_NS), the
record learns it as stat data (inputs.Watched, trees.Seen): an unchanged run then stats those paths instead
of keying its inputs and reading its trees, and does both in full when one differs.
Anything else (an option this parser does not know, a missing or mismatched record, a symbolic link,
an unreadable file, a render holding a lock, the leftover of a killed render that the full run would
recover) falls through to the full run. The CLI's entry point (renderer/cli/__init__.py) asks here before
it imports anything heavy. Stdlib only: os, fcntl, marshal and the built-in sha256 (even json and
hashlib cost more than the whole answer; tests/test_fastpath.py lists every module it may import).
"""

import os
import time

from renderer import repository
from renderer.cache import inputs, stathints, trees
from renderer.cache.directory import cache_dir, prune, trusted, write_private

FORMAT = "sks-gitops no-op record 3"
"""3: what the key and the trees were computed from (W, K, A, L, R, Q; X, Y lines), so an unchanged run stats them
instead of keying its inputs and reading its trees."""
WATCH_LINES = ("W", "K", "A", "L", "R", "Q")
"""inputs.Watched, one line each: paths there, their stamps, paths not there, paths resolved, what they resolved
to (NUL-separated; stamps comma-separated) and the digest of the rest."""


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


class Record:
    """A trusted record: the key, the data files the run read, [(expected tree digest, cluster dir)] and the
    message; and, once what they were computed from has settled, the Watch of the key (inputs.Watched) and
    what each tree looked like (trees.Seen), so an unchanged run is answered by stat alone."""

    __slots__ = ("data", "key", "message", "seen", "trees", "watched")

    def __init__(self, key: str, data: list[str], trees: list[tuple[str, str]], message: str,
                 watched: inputs.Watched | None = None, seen: list[tuple[list[str], str]] | None = None) -> None:
        self.key, self.data, self.trees, self.message = key, data, trees, message
        self.watched, self.seen = watched, seen

    def text(self) -> str:
        lines = [FORMAT, self.key, *(f"D {path}" for path in self.data),
                 *(f"T {expected} {cluster_dir}" for expected, cluster_dir in self.trees)]
        watched = self.watched
        if watched is not None:
            texts = (watched.present, watched.absent, watched.linked, watched.reals)
            if not any("\n" in text or "\r" in text for column in texts for text in column):
                lines += [f"W {NUL.join(watched.present)}", f"K {watched.stamps}",
                          f"A {NUL.join(watched.absent)}", f"L {NUL.join(watched.linked)}",
                          f"R {NUL.join(watched.reals)}", f"Q {watched.query_digest}"]
        if self.seen is not None and not any("\n" in name or "\r" in name for names, _ in self.seen for name in names):
            for names, stamps in self.seen:
                lines += [f"X {NUL.join(names)}", f"Y {stamps}"]
        return "\n".join(lines) + "\n--\n" + self.message


NUL = "\0"


def _split(text: str) -> list[str]:
    return text.split(NUL) if text else []


def _watched(lines: list[str]) -> inputs.Watched | None:
    """The Watched of a record's lines; None when it has none. ValueError when they are not one."""
    found = {line[0]: line[2:] for line in lines if line[:1] in WATCH_LINES and line[1:2] == " "}
    if not found:
        return None
    if len(found) != len(WATCH_LINES):
        raise ValueError("not a watch")
    return inputs.Watched(found["Q"], _split(found["W"]), found["K"], _split(found["A"]), _split(found["L"]),
                          _split(found["R"]))


def _seen(lines: list[str], count: int) -> list[tuple[list[str], str]] | None:
    """What each tree looked like (names and stamps_text), from a record's lines; None when it has not got that
    for every tree."""
    names = [_split(line[2:]) for line in lines if line.startswith("X ")]
    stamps = [line[2:] for line in lines if line.startswith("Y ")]
    if len(names) != count or len(stamps) != count:
        return None
    return list(zip(names, stamps, strict=True))


def _read_record(path: str) -> Record | None:
    """The trusted record at `path`, else None."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with open(descriptor, encoding="utf-8") as handle:
            if not trusted(os.fstat(descriptor)):
                return None
            everything = handle.read().split("\n")  # one pass over the long lines; no head line is "--"
    except (OSError, ValueError):  # absent, a symlink (ELOOP), a directory, not UTF-8: no answer
        return None
    if "--" not in everything:
        return None
    end = everything.index("--")
    lines, message = everything[:end], "\n".join(everything[end + 1:])
    if len(lines) < 3 or lines[0] != FORMAT:
        return None
    data = [line[2:] for line in lines[2:] if line.startswith("D ")]
    recorded = [tuple(line[2:].split(" ", 1)) for line in lines[2:] if line.startswith("T ")]
    try:
        watched = _watched(lines[2:])
        seen = _seen(lines[2:], len(recorded))
    except ValueError:
        return None
    rest = len(lines) - 2 - (0 if watched is None else len(WATCH_LINES)) - (0 if seen is None else 2 * len(seen))
    if len(data) + len(recorded) != rest or not recorded or any(len(tree) != 2 for tree in recorded):
        return None
    return Record(lines[1], data, [(tree[0], tree[1]) for tree in recorded], message, watched, seen)


def lookup(argv: list[str]) -> tuple[str | None, Pending | None]:
    """The recorded answer when it is certainly still true, else what a full run needs to record one.

    By stat alone when the record has what its key and trees were computed from and all of it stats the same;
    else by computing the key and reading the trees, and then, when what they were computed from has settled,
    the record learns it (written again) so the next unchanged run is answered by stat."""
    directory = cache_dir()
    invocation = parse(argv)
    if directory is None or invocation is None:
        return None, None
    started = time.time_ns()
    path = _record_path(directory, invocation)
    found = _read_record(path)
    current: inputs.Inputs | None = None
    try:
        if found is None or found.watched is None or not found.watched.holds(query(invocation, found.data)):
            current = inputs.Inputs()
            if found is None or current.key(query(invocation, found.data)) != found.key:
                return None, _pending(invocation, started, current)
        learnt = _trees_match(found, started)
    except OSError:
        return None, _pending(invocation, started, current)
    finally:
        if current is not None:
            current.save()
    if learnt is None:
        return None, _pending(invocation, started, current)
    if current is not None:
        found.watched = current.watched(query(invocation, found.data), started, trees.RACY_NS)
    if (current is not None and found.watched is not None) or learnt:
        try:
            write_private(path, found.text().encode("utf-8"))  # answered by stat from now on
        except (OSError, ValueError):
            return found.message, None  # an optimisation: a read-only cache answers the same, by key and content
    return found.message, None


def _pending(invocation: Invocation, started: int, current: inputs.Inputs | None) -> Pending | None:
    """What the full run needs to record its answer; None when the inputs cannot be keyed (it then records none)."""
    try:
        current = inputs.Inputs() if current is None else current
        return Pending(invocation, current.key(query(invocation)), started)
    except OSError:
        return None


def _trees_match(found: Record, started: int) -> bool | None:
    """None when a tree differs from the record; else whether the record learnt what the trees look like (when
    one was read in full and everything in it was written long enough before `started`)."""
    if found.seen is not None and all(trees.locked_tree_unchanged(cluster_dir, names, stamps)
                                      for (_digest, cluster_dir), (names, stamps)
                                      in zip(found.trees, found.seen, strict=True)):
        return False
    seen: list[trees.Seen] = [{} for _tree in found.trees]
    for (expected, cluster_dir), tree in zip(found.trees, seen, strict=True):
        if trees.locked_tree_digest(cluster_dir, tree) != expected:
            return None
    settled = all(stathints.settled(tree.values(), started - trees.RACY_NS) for tree in seen)
    found.seen = [(list(tree), stathints.stamps_text(tree.values())) for tree in seen] if settled else None
    return settled


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
        found = Record(key, data_files, [(expected, cluster_dir) for cluster_dir, expected in sorted(rendered.items())],
                       message, current.watched(query(pending.invocation, data_files), pending.started_ns,
                                                trees.RACY_NS))
        path = _record_path(directory, pending.invocation)
        write_private(path, found.text().encode("utf-8"))
        prune(os.path.dirname(path))
    except (OSError, ValueError):  # ValueError: a path that is not valid UTF-8 cannot be written as text
        return False  # the cache is an optimisation: a read-only or full disk only costs the next run time
    return True
