"""Write stage: swap a fully rendered tree into out/<cluster>/ atomically, owning only its files.

The new tree is assembled in a temporary directory beside the old one (unchanged files
are copied with their mtimes, files the renderer does not own are carried over untouched),
then exchanged with the old directory in one rename. A crash leaves the old tree or the
new one, never a mix. A no-op render touches nothing at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from renderer.errors import OutputError, Problem
from renderer.render.tree import Tree
from renderer.write import lock

MANIFEST = ".sks-gitops-owned.json"


@dataclass
class Changes:
    """How a rendered tree differs from what is on disk."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    hand_edited: list[str] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)
    stuck: list[lock.Stuck] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def executable(path: str) -> bool:
    """The files written with the executable bit (0755); every other file is written without it."""
    return path.endswith(".sh")


def _mode_differs(target: Path, path: str) -> bool:
    return bool(target.stat().st_mode & stat.S_IXUSR) != executable(path)


def with_manifest(tree: Tree) -> dict[str, bytes]:
    """The bytes to put on disk: the rendered files plus the manifest of what the renderer owns."""
    files = {path: text.encode("utf-8") for path, text in tree.items()}
    owned = {"generator": "sks-gitops", "files": {path: sha256(data) for path, data in sorted(files.items())}}
    files[MANIFEST] = (json.dumps(owned, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files


def safe_dir(path: Path, what: str) -> bool:
    """True when `path` is a real directory, False when absent; error on anything else."""
    if path.is_symlink():
        raise OutputError(Problem(str(path), 0, 0, "", f"{what} is a symbolic link; refusing to write through it"))
    if path.exists() and not path.is_dir():
        raise OutputError(Problem(str(path), 0, 0, "", f"{what} exists and is not a directory"))
    return path.is_dir()


def _owned_on_disk(cluster_dir: Path) -> dict[str, str]:
    manifest = cluster_dir / MANIFEST
    if not manifest.is_file() or manifest.is_symlink():
        return {}
    try:
        files = json.loads(manifest.read_text("utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(path): str(digest) for path, digest in files.items()} if isinstance(files, dict) else {}


def _files_on_disk(cluster_dir: Path) -> Iterator[str]:
    """Every file and symlink below the tree; a symlink to a directory is one entry, not descended."""
    for root, dirs, names in os.walk(cluster_dir):
        links = [name for name in dirs if os.path.islink(os.path.join(root, name))]
        dirs[:] = sorted(name for name in dirs if name not in links)
        for name in sorted([*names, *links]):
            yield Path(root, name).relative_to(cluster_dir).as_posix()


def _refuse_linked_dirs(cluster_dir: Path, files: dict[str, bytes], on_disk: set[str]) -> None:
    """A directory the tree renders into must be a real one: a symlinked stage directory was once carried
    into the new tree as an unowned file, beside the files rendered "into" it (exit 0, tree changed)."""
    for path in sorted({parent for name in files for parent in _parents(name)} & on_disk):
        if (cluster_dir / path).is_symlink():
            raise OutputError(Problem(str(cluster_dir / path), 0, 0, "",
                                      "is a symbolic link to a directory the tree renders into; refusing to write "
                                      "through it (make it a real directory or remove it)"))
        raise OutputError(Problem(str(cluster_dir / path), 0, 0, "",
                                  "is a file where the tree renders a directory; remove it"))


def _parents(path: str) -> Iterator[str]:
    parts = path.split("/")[:-1]
    for end in range(1, len(parts) + 1):
        yield "/".join(parts[:end])


def compare(cluster_dir: Path, files: dict[str, bytes]) -> Changes:
    """Added/changed/removed owned files, hand edits and unowned files; reads only."""
    changes = Changes()
    if not safe_dir(cluster_dir, "output directory"):
        changes.added = sorted(files)
        return changes
    owned = _owned_on_disk(cluster_dir)
    on_disk = set(_files_on_disk(cluster_dir))
    _refuse_linked_dirs(cluster_dir, files, on_disk)
    for path, data in sorted(files.items()):
        target = cluster_dir / path
        if path not in on_disk:
            changes.added.append(path)
            continue
        if target.is_symlink():
            raise OutputError(Problem(str(target), 0, 0, "", "is a symbolic link; refusing to write through it"))
        current = target.read_bytes()
        if current != data:
            changes.changed.append(path)
            if path in owned and sha256(current) != owned[path]:
                changes.hand_edited.append(path)
        elif _mode_differs(target, path):
            changes.changed.append(path)  # the executable bit is part of the tree, as git records it
    for path in sorted(on_disk - set(files)):
        if path not in owned:
            changes.unowned.append(path)
            continue
        changes.removed.append(path)
        target = cluster_dir / path
        if not target.is_symlink() and sha256(target.read_bytes()) != owned[path]:
            changes.hand_edited.append(path)
    return changes


def read_tree(out_root: Path, cluster: str, files: dict[str, bytes],
              keep_old: bool) -> tuple[Changes, dict[str, bytes]]:
    """compare() under the cluster's shared lock (so a render's swap is never seen half done), and with
    `keep_old` the current bytes of every changed or removed file."""
    try:
        if not safe_dir(out_root, "output root"):
            return compare(out_root / cluster, files), {}
        with lock.shared(out_root, cluster) as held:
            cluster_dir = out_root / cluster
            changes = compare(cluster_dir, files)
            changes.stuck = held.stuck if held else []
            old = {path: (cluster_dir / path).read_bytes()
                   for path in [*changes.changed, *changes.removed]} if keep_old else {}
            return changes, old
    except OSError as exc:
        where = exc.filename or str(out_root)
        raise OutputError(Problem(str(where), 0, 0, "", f"cannot read the tree: {exc.strerror or exc}")) from None


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs(fd: int) -> bool:
    """Flush the filesystem holding `fd` in one syscall (Linux syncfs); False where unsupported."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    if syncfs(fd) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code))


def _sync_trees(stagings: list[Path]) -> None:
    """Make the staged trees durable before any swap: one syncfs for all of them (they are on one filesystem,
    beside each other under the output root), or an fsync per file and directory of each."""
    if not stagings:
        return
    fd = os.open(stagings[0], os.O_RDONLY)
    try:
        if _syncfs(fd):
            return
    finally:
        os.close(fd)
    for staging in stagings:
        _fsync_tree(staging)


def _fsync_tree(staging: Path) -> None:
    for root, _dirs, names in os.walk(staging):
        for name in names:
            path = Path(root, name)
            if not path.is_symlink():
                file_fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(file_fd)
                finally:
                    os.close(file_fd)
        _fsync_dir(Path(root))


def _assemble(staging: Path, cluster_dir: Path, files: dict[str, bytes], changes: Changes) -> None:
    """The new tree in `staging`: rewritten files written, unchanged and unowned ones copied (not yet durable)."""
    rewrite = set(changes.added) | set(changes.changed)
    made: set[Path] = set()
    for path, data in files.items():
        target = staging / path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if path in rewrite:
            with open(target, "wb") as handle:
                handle.write(data)
            if path.endswith(".sh"):
                target.chmod(0o755)
        else:
            shutil.copy2(cluster_dir / path, target)
    for path in changes.unowned:
        (staging / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cluster_dir / path, staging / path, follow_symlinks=False)


def _new_dir(path: Path) -> None:
    os.mkdir(path, 0o700)


def _staging(held: lock.Held) -> Path:
    """A new temporary tree beside the old one, on the lock's record before it exists (lock.py)."""
    while True:
        name = f".{held.cluster}.tmp-{secrets.token_hex(6)}"
        held.note(name)
        try:
            _new_dir(held.out_root / name)
        except FileExistsError:
            held.forget(name)  # someone else's folder of that name: never ours to remove
            continue
        except OSError:
            held.forget(name)
            raise
        return held.out_root / name


def _swap(held: lock.Held, staging: Path) -> Path | None:
    """Put `staging` at out_root/cluster; return the old tree's directory, now to be removed."""
    out_root, cluster = held.out_root, held.cluster
    cluster_dir = out_root / cluster
    if not cluster_dir.exists():
        os.rename(staging, cluster_dir)
        return None
    if _exchange(staging, cluster_dir):
        return staging
    parked = out_root / f".{cluster}.old-{os.getpid()}"
    if os.path.lexists(parked):
        raise OSError(errno.EEXIST, "a folder of the name this render parks the old tree under exists", str(parked))
    held.note(parked.name)
    os.rename(cluster_dir, parked)
    os.rename(staging, cluster_dir)
    return parked


def _cleanup(held: lock.Held, old_tree: Path | None, sync_root: bool = True) -> None:
    """After the swap the new tree is in place: a failure here must not claim otherwise."""
    out_root = held.out_root
    try:
        if old_tree is not None:
            shutil.rmtree(old_tree)
            held.forget(old_tree.name)
        if sync_root:
            _fsync_dir(out_root)
    except OSError as exc:
        raise OutputError(Problem(str(exc.filename or out_root), 0, 0, "",
                                  f"the new tree is in place, but cleaning up failed: {exc.strerror or exc}; "
                                  "the next render removes the leftover")) from None


def write(out_root: Path, cluster: str, files: dict[str, bytes]) -> Changes:
    """Make out_root/cluster hold exactly `files` (see with_manifest) plus unowned files; atomic, locked, minimal."""
    return write_many(out_root, [(cluster, files)])[0]


WRITE_BATCH = 32
"""Trees a fleet writes per flush (write_many): each holds its lock and a staged tree until the batch is swapped."""


def write_many(out_root: Path, trees: list[tuple[str, dict[str, bytes]]]) -> list[Changes]:
    """write() for several clusters, made durable with one flush: each tree is compared and staged under its own
    lock, the staged trees are synced together (a syncfs flushes the whole filesystem, so one per tree cost a
    fleet one wait each on a busy disk), then each is swapped in. Every tree stays atomic on its own: a crash
    leaves each cluster's old tree or its new one, and a failure leaves the trees not yet swapped unchanged."""
    for cluster, _ in trees:
        if "/" in cluster or cluster in ("", ".", ".."):
            raise OutputError(Problem(cluster, 0, 0, "", "cluster name cannot name a directory under out/"))
    try:
        if not safe_dir(out_root, "output root"):
            out_root.mkdir(parents=True)
        with contextlib.ExitStack() as locks:
            staged: list[tuple[lock.Held, Path]] = []
            found: list[Changes] = []
            try:
                for cluster, files in trees:
                    held = locks.enter_context(lock.exclusive(out_root, cluster))
                    changes = compare(out_root / cluster, files)
                    changes.stuck = held.stuck
                    found.append(changes)
                    if changes.differs:
                        staging = _staging(held)
                        staged.append((held, staging))
                        _assemble(staging, out_root / cluster, files, changes)
                        staging.chmod(0o755)
                _sync_trees([staging for _, staging in staged])
                while staged:
                    held, staging = staged[0]
                    leftover = _swap(held, staging)
                    staged.pop(0)
                    if not os.path.lexists(staging):
                        held.forget(staging.name)
                    _cleanup(held, leftover, sync_root=not staged)
            finally:
                if staged and len(staged) < sum(changes.differs for changes in found):
                    with contextlib.suppress(OSError):  # the swaps done so far, made durable all the same
                        _fsync_dir(out_root)
                for held, staging in staged:  # not swapped: the cluster keeps its old tree
                    shutil.rmtree(staging, ignore_errors=True)
                    if not os.path.lexists(staging):
                        held.forget(staging.name)
            return found
    except OSError as exc:
        where = exc.filename or str(out_root)
        message = f"cannot write the tree: {exc.strerror or exc}; the previous tree is unchanged"
        raise OutputError(Problem(str(where), 0, 0, "", message)) from None
