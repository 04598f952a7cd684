"""Where the tree lands in git: the repository of the values, the default output, the path the engines sync.

Argo CD's `spec.source.path` and Flux's `spec.path` are relative to the root of the repository they
clone (argo-cd reposerver/repository/repository.go resolves the path inside the checkout; Flux's
kustomize-controller joins it with the artifact root, api/v1/kustomization_types.go `Path`). So the
path a tree is synced from is the output directory relative to the root of the git work tree that
holds it, whatever directory `render` runs in. Decisions (README, "Where the tree goes"):

- `render` resolves its defaults against the root of the git work tree it runs in, as git and
  pre-commit do (the current directory when it is in none): `--out` left out means `out/` there,
  no VALUES means `values/prod.yaml` there. So `render prod.yaml` run in `values/` writes the same
  tree as `render values/prod.yaml` at the root, not a stray `values/out/`.
- A tree written inside a git work tree is synced from there: `gitops.path` defaults to that path,
  and a `gitops.path` that says otherwise is refused (exit 2) with the two ways to agree.
- A tree written outside every git work tree (a scratch render, a CI comparison) cannot be synced
  from where it is; the engines then read `gitops.path` (default `out/<cluster>`), unchecked.
"""

import os
import posixpath

TYPE_CHECKING = False  # not `from typing import`: the no-op cache's path imports this module, and typing costs 11 ms
if TYPE_CHECKING:
    from typing import Any

    from renderer.load import LocatedValues

DEFAULT_OUT = "out"
DEFAULT_VALUES = "values/prod.yaml"
"""What `render` alone reads, as the pre-commit hook's default args do (.pre-commit-hooks.yaml)."""

# os.path only: the no-op cache (renderer/cache/noop.py) resolves the default OUT before anything heavy loads.


def work_tree(path: str | os.PathLike[str]) -> str | None:
    """The root of the git work tree holding `path` (which need not exist yet): the nearest directory,
    upward, with a `.git` entry (a directory, or a file in a linked worktree or a submodule)."""
    here = os.path.abspath(path)
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _shown(path: str) -> str:
    """`path` relative to the current directory when that reads shorter (status lines stay `out/...`)."""
    relative = os.path.relpath(path)
    return relative if len(relative) <= len(path) else path


def default_out() -> str:
    """`out/` at the root of the work tree the current directory is in (else the current directory's `out/`)."""
    root = work_tree(os.getcwd())
    return _shown(os.path.join(root, DEFAULT_OUT)) if root else DEFAULT_OUT


def default_values() -> str | None:
    """`values/prod.yaml` at the root of the current directory's work tree (else in the current directory)."""
    found = os.path.join(work_tree(os.getcwd()) or os.getcwd(), DEFAULT_VALUES)
    return _shown(found) if os.path.isfile(found) else None


def tree_prefix(out_dir: str | os.PathLike[str]) -> str | None:
    """`out_dir` as a path inside its git work tree (`""` at the root), or None outside every work tree."""
    root = work_tree(out_dir)
    if root is None:
        return None
    relative = os.path.relpath(os.path.abspath(out_dir), root)
    return "" if relative == "." else relative.replace(os.sep, "/")


def place_tree(values: "LocatedValues", data: "dict[str, Any]", out_dir: str | os.PathLike[str]) -> "dict[str, Any]":
    """The validated data with `gitops.path` where the tree is written (the default), or a refusal when the
    values say another path. A scratch output (outside every work tree) leaves the data as it is."""
    from renderer.errors import Problem, ValuesError

    prefix = tree_prefix(out_dir)
    if prefix is None:
        return data
    cluster = data["cluster"]["name"]
    written = posixpath.join(prefix, cluster) if prefix else cluster
    said = data["gitops"].get("path")
    if said is None:
        return {**data, "gitops": {**data["gitops"], "path": written}}
    if posixpath.normpath(said) == written:
        return data
    root = work_tree(out_dir) or "."
    file, line, column = values.value_origin(("gitops", "path"))
    if posixpath.basename(said) == cluster:
        wanted_out = _shown(os.path.join(root, posixpath.dirname(said)))
        hint = f"set gitops.path: {written} (or remove it: it defaults to where the tree is written), " \
               f"or render with --out {wanted_out}"
    else:
        hint = f"set gitops.path: {written} (or remove it: it defaults to where the tree is written); the tree " \
               f"of cluster {cluster} is always written to OUT/{cluster}"
    raise ValuesError(Problem(
        file, line, column, "gitops.path",
        f"Argo CD and Flux would sync {said}, but this render writes the tree to {written} in the repository "
        f"{root}", hint=hint))
