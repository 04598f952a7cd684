"""Paths that agree: Argo CD and Flux sync the directory the tree is written to, and `render`'s defaults
(OUT, VALUES) resolve against the git repository it runs in, not the current directory
(renderer/repository.py; README, "Where the tree goes").

A repository here is a directory with a `.git` entry, as git finds one; the values are the project's
values/prod.yaml copied in.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from renderer import yamlio
from tests.conftest import PROD_VALUES
from tests.support.cli import run_cli

CLUSTER = "ceosks-poc"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git work tree holding values/prod.yaml, as the current directory."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "values").mkdir()
    shutil.copy(PROD_VALUES, root / "values" / "prod.yaml")
    monkeypatch.chdir(root)
    return root


def _synced_paths(doc: Any, parent: str = "") -> list[str]:
    """Every repository path an engine object syncs: `path` under an Application's source(s) or a
    Kustomization's spec."""
    found = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "path" and parent in ("spec", "source", "sources") and isinstance(value, str):
                found.append(value)
            found += _synced_paths(value, key if key != "path" else parent)
    elif isinstance(doc, list):
        for item in doc:
            found += _synced_paths(item, parent)
    return found


def engine_paths(tree: Path) -> list[str]:
    """The repository paths of every Argo CD Application and Flux Kustomization in the tree, and the
    bootstrap's GITOPS_PATH (it hands over the same tree)."""
    paths = []
    for file in sorted(tree.rglob("*.yaml")):
        for doc in yamlio.load_all_plain(file.read_text("utf-8")):
            if isinstance(doc, dict) and doc.get("kind") in ("Application", "Kustomization") and "metadata" in doc:
                paths += _synced_paths(doc.get("spec"), "spec")
    script = (tree / "bootstrap.sh").read_text("utf-8")
    paths += [line.split("=", 1)[1] for line in script.splitlines() if line.startswith("readonly GITOPS_PATH=")]
    return paths


@pytest.mark.parametrize("out", ["deploy", "clusters/prod", "."])
def test_engines_sync_the_directory_the_tree_is_written_to(repo: Path, out: str) -> None:
    run_cli("--out", out, "values/prod.yaml", "--set", "gitops.engine=both", expect=0)
    tree = repo / out / CLUSTER
    paths = engine_paths(tree)
    assert len(paths) > 10  # every stage, both engines and the bootstrap
    for path in paths:
        assert (repo / path).is_dir(), f"an engine syncs {path}, which the render did not write"
        assert (repo / path).resolve().is_relative_to(tree.resolve())


def test_a_gitops_path_that_disagrees_is_refused_naming_both_fixes(repo: Path) -> None:
    run = run_cli("--out", "deploy", "values/prod.yaml", "--set", "gitops.path=out/ceosks-poc", expect=2)
    assert run.stderr.splitlines() == [
        "--set gitops.path=out/ceosks-poc: error: gitops.path: Argo CD and Flux would sync out/ceosks-poc, but this "
        f"render writes the tree to deploy/ceosks-poc in the repository {repo}",
        "  hint: set gitops.path: deploy/ceosks-poc (or remove it: it defaults to where the tree is written), "
        "or render with --out out",
    ]
    assert not (repo / "deploy").exists()


def test_a_gitops_path_naming_another_directory_is_refused(repo: Path) -> None:
    values = repo / "values" / "prod.yaml"
    values.write_text(values.read_text("utf-8").replace("gitops:\n", "gitops:\n  path: clusters/prod\n"), "utf-8")
    run = run_cli("values/prod.yaml", expect=2)
    assert "error: gitops.path: Argo CD and Flux would sync clusters/prod, but this render writes the tree to " \
           "out/ceosks-poc" in run.stderr
    assert "hint: set gitops.path: out/ceosks-poc" in run.stderr
    assert run.stderr.startswith("values/prod.yaml:")
    assert not (repo / "out").exists()


def test_a_gitops_path_that_agrees_is_accepted(repo: Path) -> None:
    run_cli("--out", "deploy", "values/prod.yaml", "--set", "gitops.path=deploy/ceosks-poc", expect=0)
    assert (repo / "deploy" / CLUSTER / "bootstrap.sh").is_file()


def test_out_resolves_against_the_repository_not_the_current_directory(repo: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "values")
    run = run_cli("prod.yaml", expect=0)
    assert run.stderr.startswith(f"../out/{CLUSTER}: ")
    assert not (repo / "values" / "out").exists()
    assert all(path.startswith(("out/", "./out/")) for path in engine_paths(repo / "out" / CLUSTER))


def test_render_alone_reads_values_prod_yaml_as_the_pre_commit_hook_does(repo: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    hook = yamlio.load_all_plain((Path(__file__).parents[1] / ".pre-commit-hooks.yaml").read_text("utf-8"))[0][0]
    assert hook["args"] == ["values/prod.yaml"]
    monkeypatch.chdir(repo / "values")
    run_cli(expect=0)
    assert (repo / "out" / CLUSTER / "bootstrap.sh").is_file()
    check = run_cli("--check", expect=0)
    assert check.stderr == f"../out/{CLUSTER}: up to date\n"


def test_render_alone_without_values_prod_yaml_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_cli(expect=2)
    assert "no VALUES given and no values/prod.yaml at the root of this repository" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_scratch_output_outside_every_repository_keeps_gitops_path(repo: Path, tmp_path: Path) -> None:
    """Outside every work tree nothing can be synced from where the tree is: the engines read gitops.path
    (default out/<cluster>), the path the repository's own render writes."""
    run_cli("--out", tmp_path / "scratch", "values/prod.yaml", expect=0)
    assert set(engine_paths(tmp_path / "scratch" / CLUSTER)) == set(engine_paths(_render_in_repo(repo)))


def _render_in_repo(repo: Path) -> Path:
    run_cli("values/prod.yaml", expect=0)
    return repo / "out" / CLUSTER


@pytest.mark.parametrize("args", [["--format", "markdown"], ["--format", "text"], ["--check", "--format", "text"]])
def test_format_without_diff_or_plan_is_a_usage_error(repo: Path, args: list[str]) -> None:
    run = run_cli(*args, "values/prod.yaml", expect=2)
    assert "shapes the output of --diff or --plan; add one of them" in run.stderr
    assert not (repo / "out").exists()
