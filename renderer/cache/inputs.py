"""Everything that decides a run's answer, declared once and keyed by content: the key of every cached answer.

The no-op fast path (noop.py) and per-cluster reuse (clusters.py) answer only when the key of a
query equals the key a clean full run recorded. SHARED and PER_QUERY list every input; files count
by what they hold (sha256 of the bytes at their real path: symlinks and `..` resolved by the
system, never as text), with stat data only sparing a re-read (stathints.py). Stdlib only: the fast
path runs this before anything heavy is imported.
"""

import marshal
import os
import stat
import sys

from renderer.cache import stathints
from renderer.cache.directory import CACHE_ENV, NO_CACHE_ENV

FORMAT = "sks-gitops inputs 3"
LOCK_NAME = "remote-manifests.lock.json"
"""renderer.remote's lock file; a test keeps the two names equal."""
VENDOR_DIR = "vendor"
"""renderer.remote.vendor's directory beside it (tests/test_vendor.py keeps the two equal)."""

TYPE_CHECKING = False  # not `from typing import`, nor collections.abc at run time: the no-op path imports this module
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Part = str | None
"""One part of a key: text, or None for an absent file (so absent and empty differ)."""

IMPORT_PATH = tuple(sys.path)
"""The interpreter's import path as the process started (PYTHONPATH, .pth files, -I, the script's folder):
which modules `import` finds is decided by it, so it is an input. Taken at import, before anything could
append to it."""


def _files(top: str, code: bool = False) -> list[tuple[str, str]]:
    """(name below `top`, real path) of every file, following symlinks as the readers do (Jinja's loader
    opens through them); a directory that links back to one of its parents is a cycle, an OSError."""
    found: list[tuple[str, str]] = []
    watch = stathints.table().watch
    real = watch.realpath(top)
    if _is_dir(watch.stat(real)):
        _walk(real, "", found, code, (real,))
    return found


def _is_dir(info: os.stat_result | None) -> bool:
    return info is not None and stat.S_ISDIR(info.st_mode)


def _walk(real: str, prefix: str, found: list[tuple[str, str]], code: bool, parents: tuple[str, ...]) -> None:
    watch = stathints.table().watch
    watch.stat(real)  # what it lists: a new, removed or renamed entry gives it a new mtime
    with os.scandir(real) as entries:
        listed = sorted((entry.name, entry.is_symlink(), entry.is_dir()) for entry in entries)
    for name, link, is_dir in listed:
        if code and (name == "__pycache__" or name.endswith(".pyc")):
            continue  # what Python derives from the sources: the sources are keyed
        target = f"{real}/{name}"
        if link:
            target = watch.realpath(target)
            watch.stat(target)  # what is_dir() followed the link to
        if is_dir:
            if target in parents:
                raise OSError(f"{real}/{name} links back to a parent directory")
            _walk(target, f"{prefix}{name}/", found, code, (*parents, target))
        else:
            found.append((prefix + name, target))


def _tree_parts(top: str, code: bool = False, where: bool = False) -> list[Part]:
    """Each file by name and content; with `where`, also by the real folder it is in (vendored manifests are
    named in the tree by their real path)."""
    known = stathints.table()
    return [f"{name}\0{os.path.dirname(real) if where else ''}\0{known.sha(real)}" for name, real in _files(top, code)]


def _executed(path: str) -> list[Part]:
    """The bytecode Python runs for the source at `path` (as imported), by content: the bytes actually executed.

    Python trusts a timestamp .pyc whose recorded source mtime and size match; a same-size edit that puts the
    mtime back leaves it stale, and both the full run and the answer it records ran the old code. A source
    whose ctime is newer than its .pyc may be such an edit: its code is compiled and compared with the .pyc.
    The same code (a chmod, a copy or an unpacked image moved the ctime): the .pyc's mtime is brought forward
    so the comparison is not repeated. Other code: the .pyc is removed (this run's imports compile the source)
    and there is no key (OSError), so no run that may have executed it answers or records."""
    bootstrap = sys.modules.get("_frozen_importlib_external")  # CPython's import system, always loaded
    cache_from_source = getattr(bootstrap, "cache_from_source", None)
    if cache_from_source is None:
        return []
    watch = stathints.table().watch
    try:
        compiled = str(cache_from_source(path))
        written = watch.stat(compiled)  # noted there or not: a .pyc written or removed later changes the watch
        if written is None:
            raise FileNotFoundError(compiled)
        source = os.stat(path)
    except (FileNotFoundError, NotImplementedError, ValueError):
        return [None]  # compiled from the source, which is keyed
    if written.st_mtime_ns < source.st_ctime_ns:
        if not _same_code(path, compiled):
            try:
                os.unlink(compiled)
            except OSError as exc:  # a read-only installation: every run goes in full until the .pyc is gone
                raise OSError(f"{compiled} is stale and cannot be removed: {exc.strerror}") from None
            raise OSError(f"{compiled} was stale: {path} changed after it was written")
        try:
            os.utime(compiled)
        except OSError:
            return [stathints.table().sha(compiled)]  # read-only: compared again next time, at a compile's cost
    return [stathints.table().sha(compiled)]


def _same_code(path: str, compiled: str) -> bool:
    """Whether the .pyc holds the code the source compiles to now (header: 16 bytes, then the marshalled code)."""
    try:
        with open(compiled, "rb") as handle:
            data = handle.read()
        with open(path, "rb") as handle:
            code = compile(handle.read(), path, "exec", dont_inherit=True)
        return bool(marshal.loads(data[16:]) == code)
    except (OSError, ValueError, EOFError, TypeError, SyntaxError):
        return False


class Query:
    """What one answer is asked about: its values files, the options that change output, and the installed
    data files the run that recorded the answer read (renderer.check.data_files)."""

    __slots__ = ("data_files", "options", "values")

    def __init__(self, values: "Sequence[str]", options: "Sequence[str]", data_files: "Sequence[str]" = ()) -> None:
        self.values, self.options, self.data_files = tuple(values), tuple(options), tuple(data_files)


def _python() -> list[Part]:
    return [sys.version, sys.prefix, sys.executable, os.getcwd(), repr(sys.flags), *IMPORT_PATH]


def _code() -> list[Part]:
    """The package's sources by content, and the bytecode run for each (_executed)."""
    known = stathints.table()
    parts: list[Part] = []
    from renderer import datafiles  # here, not at the top: the no-op path never keys the inputs

    for name, real in _files(datafiles.PACKAGE, code=True):
        parts.append(f"{name}\0\0{known.sha(real)}")
        if name.endswith(".py"):
            parts += _executed(os.path.join(datafiles.PACKAGE, name))
    return parts


def _templates() -> list[Part]:
    from renderer import datafiles

    return _tree_parts(datafiles.data_dir("templates"))


def _schemas() -> list[Part]:
    from renderer import datafiles

    return _tree_parts(datafiles.data_dir("schemas"))


def _distributions() -> list[Part]:
    """Installed distributions by name and by their RECORD (every file's sha256, as pip installed it), and the
    .pth files that change sys.path. Their code is not re-hashed here: editing an installed library in place
    is not noticed (its data files that the run reads are, by _package_data)."""
    known = stathints.table()
    watch = known.watch
    parts: list[Part] = []
    for entry in sys.path:
        if os.path.basename(entry) not in ("site-packages", "dist-packages") or not _is_dir(watch.stat(entry)):
            continue
        real = watch.realpath(entry)
        watch.stat(real)
        with os.scandir(real) as listing:
            found = sorted((item.name, item.is_symlink()) for item in listing
                           if item.name.endswith((".dist-info", ".egg-info", ".pth")))
        for name, link in found:
            path = watch.realpath(os.path.join(real, name)) if link else os.path.join(real, name)
            if name.endswith(".dist-info"):
                parts += [f"{entry}/{name}", known.sha(os.path.join(path, "RECORD"))]
            else:
                parts += [f"{entry}/{name}", known.sha(path) if name.endswith(".pth") else path]
    return parts


def _package_listing() -> list[Part]:
    """The Kubernetes versions kubernetes-validate ships (renderer.resources.kubernetes_versions lists them)."""
    from renderer import datafiles

    root = datafiles.kubernetes_schema_root()
    watch = stathints.table().watch
    for entry in sys.path:  # what kubernetes_schema_root() looked at: the first entry holding the package
        package = os.path.join(entry or os.getcwd(), "kubernetes_validate")
        found = watch.stat(os.path.join(package, "__init__.py")) is not None
        if found and root == os.path.join(package, "kubernetes-json-schema"):
            break
    if root is None:
        return [None]
    real = watch.realpath(root)
    return [real, *(sorted(os.listdir(real)) if _is_dir(watch.stat(real)) else [None])]


def _settings() -> list[Part]:
    return [*sorted(f"{key}={value}" for key, value in os.environ.items()
                    if key.startswith("SKS_GITOPS_") and key not in (CACHE_ENV, NO_CACHE_ENV))]


def _options(query: Query) -> list[Part]:
    return list(query.options)


_REAL_FOLDERS: dict[str, str] = {}
"""realpath() of the values folders, for one Inputs (a fleet's thousand files share a few folders)."""


def _real_folder(path: str) -> str:
    folder = os.path.dirname(path) or "."
    found = _REAL_FOLDERS.get(folder)
    if found is None:
        found = _REAL_FOLDERS[folder] = stathints.table().watch.realpath(folder)
    return found


def _real(path: str) -> str:
    """os.path.realpath(path), resolving the folder once per Inputs."""
    candidate = f"{_real_folder(path)}/{os.path.basename(path)}"
    watch = stathints.table().watch
    if os.path.islink(candidate):
        return watch.realpath(candidate)
    watch.reals[candidate] = candidate  # not a link (its folder is real): so it must stay
    return candidate


def _values(query: Query) -> list[Part]:
    known = stathints.table()
    return [part for value in query.values for part in (value, known.sha(_real(value)))]


def _locks(query: Query) -> list[Part]:
    """The lock beside each values file, as renderer.remote.lock_path finds it: `d/../v.yaml` is beside
    whatever `d` links to, so the folder is resolved by the system, not normalised as text."""
    known = stathints.table()
    folders = sorted({_real_folder(value) for value in query.values})
    return [part for folder in folders for part in (folder, known.sha(f"{folder}/{LOCK_NAME}"))]


def _vendored(query: Query) -> list[Part]:
    """The vendored manifests beside each values file (renderer/remote/vendor.py): a render checks their sha256,
    so their content is an input like the lock's, and names their real folder in the tree (`values/vendor`
    retargeted to an identical copy elsewhere changes the tree, not the bytes)."""
    folders = sorted({_real_folder(value) for value in query.values})
    return [part for folder in folders for part in (folder, *_tree_parts(f"{folder}/{VENDOR_DIR}", where=True))]


def _package_data(query: Query) -> list[Part]:
    known = stathints.table()
    return [part for path in query.data_files for part in (path, known.sha(known.watch.realpath(path)))]


SHARED: "dict[str, Callable[[], list[Part]]]" = {
    "python": _python,
    "code": _code,
    "templates": _templates,
    "schemas": _schemas,
    "distributions": _distributions,
    "package listing": _package_listing,
    "settings": _settings,
}
"""Inputs every answer shares, computed once per run."""
PER_QUERY: "dict[str, Callable[[Query], list[Part]]]" = {
    "options": _options,
    "values": _values,
    "lock": _locks,
    "vendored manifests": _vendored,
    "package data": _package_data,
}
"""Inputs of one answer (a whole invocation, or one cluster of a fleet)."""


def digest_parts(parts: "Sequence[Part | bytes]") -> str:
    """One sha256 over length-prefixed parts, so no two different lists share a digest."""
    encoded = [b"\xff" if part is None else part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
               for part in parts]
    hexdigest: str = stathints.sha256(b"".join(b"%d:%s" % (len(data), data) for data in encoded)).hexdigest()
    return hexdigest


class Inputs:
    """The shared inputs as they are now; `key(query)` adds one answer's own. `newest_ns` is the newest ctime
    of every file looked at, so a caller can refuse to record what may have changed during its run."""

    def __init__(self) -> None:
        _REAL_FOLDERS.clear()
        self.table = stathints.table()
        self.table.newest_ns = 0
        self.table.watch = stathints.Watch()
        shared: list[Part] = [FORMAT]
        for name, function in SHARED.items():
            shared += [name, *function()]
        self.shared = digest_parts(shared)
        self.shared_newest_ns = self.newest_ns = self.table.newest_ns

    def key(self, query: Query) -> str:
        self.table.newest_ns = 0
        parts: list[Part] = [self.shared]
        for name, function in PER_QUERY.items():
            parts += [name, *function(query)]
        self.newest_ns = max(self.shared_newest_ns, self.table.newest_ns)
        return digest_parts(parts)

    def save(self) -> None:
        self.table.save()

    def watched(self, query: Query, started_ns: int, racy_ns: int) -> "Watched | None":
        """What the keys computed so far were computed from (a Watch), to answer `query` later without computing
        its key again; None when something looked at was written within `racy_ns` of `started_ns` (it may be
        written again within the same timestamp tick) or changed while it was read."""
        watch = self.table.watch
        present = {path: found for path, found in watch.stats.items() if found is not None}
        if not stathints.settled(present.values(), started_ns - racy_ns):
            return None
        return Watched(settled(query), list(present), stathints.stamps_text(present.values()),
                       [path for path, found in watch.stats.items() if found is None], list(watch.reals),
                       list(watch.reals.values()))


def _declared() -> list[Part]:
    """Which functions compute the inputs: a Watch taken with other ones never stands for a key."""
    return [f"{name} {function.__module__}.{function.__qualname__}"
            for registry in (SHARED, PER_QUERY) for name, function in registry.items()]


def settled(query: Query) -> str:
    """The inputs of `query` that are not on disk (the interpreter, settings, options, data files' names) and the
    declaration of the rest, in one digest: with an unchanged Watch, the same digest means the same key."""
    return digest_parts([FORMAT, *_python(), *_settings(), *_options(query), *query.values, "data",
                         *query.data_files, *_declared()])


class Watched:
    """A Watch taken apart, as a record keeps it: `query_digest` (settled()), the paths there and their stamps
    (stathints.stamps_text),
    the paths that were not there, the paths resolved and what they resolved to."""

    __slots__ = ("absent", "linked", "present", "query_digest", "reals", "stamps")

    def __init__(self, query_digest: str, present: list[str], stamps: str, absent: list[str],
                 linked: list[str], reals: list[str]) -> None:
        self.query_digest, self.present, self.stamps, self.absent = query_digest, present, stamps, absent
        self.linked, self.reals = linked, reals

    def holds(self, query: Query) -> bool:
        """Whether the key of `query` is still the one computed when this was taken (OSError: cannot tell)."""
        return settled(query) == self.query_digest and \
            stathints.unchanged(self.present, self.stamps, self.absent, self.linked, self.reals)


def inputs(query: Query) -> dict[str, list[Part]]:
    """Every declared input of `query` by name, as it is now (Inputs.key digests the same lists)."""
    _REAL_FOLDERS.clear()
    return {**{name: function() for name, function in SHARED.items()},
            **{name: function(query) for name, function in PER_QUERY.items()}}
