"""Vendored upstream manifests: the locked bytes kept in git, so what the cluster applies is what was reviewed.

`render --lock --vendor` stores each locked manifest in `vendor/<name>-<sha256[:12]>/` beside the
lock file, with a one-line kustomization, and marks the lock `"vendor": true`. From then on every
render points stages 3 and 4 at that directory instead of the URL (a kustomization may use a
directory outside its own root as a base, never a loose file), so Argo CD, Flux and the bootstrap
apply exactly those bytes and every stage builds offline. A render refuses vendored bytes whose
sha256 or size is not the lock's.

The directory must be inside the repository: Flux builds over the whole source artifact
(fluxcd/pkg kustomize/kustomize_generator.go: Build, LoadRestrictionsNone), Argo CD in its checkout
of the repository, the bootstrap with `kubectl kustomize` in the working copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
from pathlib import Path

from renderer import remote, repository
from renderer.errors import Problem, RemoteError
from renderer.model import Model

DIRECTORY = "vendor"
HEADER = "# Vendored by `render --lock --vendor`: the locked bytes of {url}\n"


def enabled(lock: Path) -> bool:
    """Whether the lock file asks for vendored manifests."""
    if not lock.is_file():
        return False
    try:
        return json.loads(lock.read_text("utf-8")).get("vendor") is True
    except (OSError, ValueError, AttributeError):
        return False  # remote.read_lock reports an unreadable lock


def directory(lock: Path, url: str, entry: remote.Entry) -> Path:
    """Where one manifest is vendored: named by the file and its hash, so a bump is a new directory."""
    name = posixpath.basename(url).removesuffix(".yaml").removesuffix(".yml") or "manifest"
    return lock.parent / DIRECTORY / f"{name}-{entry.sha256[:12]}"


def _file(folder: Path, url: str) -> Path:
    return folder / (posixpath.basename(url) or "manifest.yaml")


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)


def store(lock: Path, downloaded: dict[str, bytes], entries: dict[str, remote.Entry]) -> None:
    """Write every downloaded manifest under vendor/ and remove vendored directories no entry names any more."""
    wanted = {directory(lock, url, entry).name for url, entry in entries.items()}
    for url, data in sorted(downloaded.items()):
        folder = directory(lock, url, entries[url])
        folder.mkdir(parents=True, exist_ok=True)
        _write(_file(folder, url), data)
        kustomization = (HEADER.format(url=url) + "apiVersion: kustomize.config.k8s.io/v1beta1\n"
                         "kind: Kustomization\nresources:\n" + f"  - {json.dumps(_file(folder, url).name)}\n")
        _write(folder / "kustomization.yaml", kustomization.encode("utf-8"))
    root = lock.parent / DIRECTORY
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        owned = (folder / "kustomization.yaml").is_file() and (folder / "kustomization.yaml").read_text(
            "utf-8", "replace").startswith(HEADER.split("{", 1)[0])
        if folder.is_dir() and not folder.is_symlink() and owned and folder.name not in wanted:
            shutil.rmtree(folder)


_CHECKED: dict[tuple[str, int, int, int], str] = {}
"""sha256 of vendored files by path and stat: a fleet sharing one lock hashes each file once."""


def _sha256(path: Path) -> str:
    info = path.stat()
    key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns)
    if key not in _CHECKED:
        _CHECKED[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _CHECKED[key]


def references(values_files: list[Path], model: Model) -> dict[str, str]:
    """For a vendoring lock: each remote URL of the model and the directory its stage kustomization names
    instead (relative to the stage's place in the repository, gitops.path), after checking the bytes."""
    lock = remote.lock_path(values_files[-1])
    if not enabled(lock):
        return {}
    entries = remote.read_lock(lock)
    found: dict[str, str] = {}
    problems = []
    gitops_path = model.values.gitops.path
    for stage in model.git_stages:
        for url in stage.remote:
            entry = entries.get(url)
            if entry is None:
                continue  # pipeline._pin_remote reports the missing entry
            folder = directory(lock, url, entry)
            problem = _problem(folder, url, entry)
            if problem:
                problems.append(problem)
                continue
            root = Path(repository.work_tree(folder) or Path.cwd())  # gitops.path is relative to the same root
            in_repo = os.path.relpath(folder.resolve(), root.resolve()).replace(os.sep, "/")
            if in_repo.startswith("../"):
                problems.append(Problem(str(folder), 0, 0, "", "vendored manifests must live inside the "
                                        "repository: run render from the repository root"))
                continue
            found[url] = posixpath.relpath(in_repo, posixpath.join(gitops_path, stage.directory))
    if problems:
        raise RemoteError(problems)
    return found


def _problem(folder: Path, url: str, entry: remote.Entry) -> Problem | None:
    path = _file(folder, url)
    hint = "run `render --lock --vendor` again and review the diff, or restore the file from git"
    if not path.is_file() or not (folder / "kustomization.yaml").is_file():
        return Problem(str(path), 0, 0, "", f"vendored copy of {url} is missing", hint=hint)
    size, digest = path.stat().st_size, _sha256(path)
    if (digest, size) != (entry.sha256, entry.size):
        return Problem(str(path), 0, 0, "", f"vendored bytes differ from the lock: sha256 {digest} ({size} bytes), "
                       f"locked sha256 {entry.sha256} ({entry.size} bytes)", hint=hint)
    return None


def lock_and_store(lock: Path, urls: list[str], vendor: bool) -> None:
    """`render --lock [--vendor]`: download, pin and, when vendoring is asked for or already on, store."""
    existing = remote.read_lock(lock)
    downloaded = {url: remote.fetch(url) for url in urls}
    entries = {**existing, **{url: remote.entry_for(data) for url, data in downloaded.items()}}
    vendoring = vendor or enabled(lock)
    if vendoring:
        store(lock, downloaded, entries)
    remote.write_lock(lock, entries, vendor=vendoring)
