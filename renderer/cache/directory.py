"""The per-user cache: where it lives, and how its records are written, trusted and pruned.

Shared by the no-op fast path, per-cluster reuse and the Jinja bytecode cache. Never inside the
repository; stdlib only (the fast path imports it before anything heavy).
"""

import os
import stat

CACHE_ENV = "SKS_GITOPS_CACHE_DIR"
NO_CACHE_ENV = "SKS_GITOPS_NO_CACHE"
MAX_RECORDS = 20_000
"""Per kind of record (no-op answers, fleet clusters): about 100 MB at most, pruned oldest-written first."""


def cache_dir() -> str | None:
    """The per-user cache (never inside the repository); None when caching is switched off."""
    if os.environ.get(NO_CACHE_ENV):
        return None
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sks-gitops")


def trusted(info: os.stat_result) -> bool:
    """Only a record this user wrote and nobody else can change (a shared cache dir must not forge answers)."""
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def write_private(path: str, data: bytes) -> None:
    """Replace `path` atomically with a file only this user can read, in a directory only this user can enter."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def prune(folder: str, keep: int | None = None) -> None:
    """Drop the records written longest ago beyond `keep`: every new output path or fleet adds records."""
    keep = MAX_RECORDS if keep is None else keep
    try:
        with os.scandir(folder) as entries:
            found = [(entry.stat(follow_symlinks=False).st_mtime_ns, entry.path) for entry in entries
                     if entry.is_file(follow_symlinks=False)]
        for _mtime, path in sorted(found)[: max(0, len(found) - keep)]:
            os.unlink(path)
    except OSError:
        return  # another render pruned it first, or the cache is read-only: pruning is housekeeping
