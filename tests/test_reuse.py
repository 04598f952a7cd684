"""A fleet re-renders only the clusters whose inputs or trees changed, and answers exactly as a full run would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from renderer import remote
from renderer.cache import directory, trees
from renderer.cli import command
from tests.conftest import PROD_VALUES, read_tree

NAMES = ("alpha", "bravo", "charlie")


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """values/{alpha,bravo,charlie}.yaml, the cache on, and code old enough to record (see test_fastpath)."""
    monkeypatch.delenv(directory.NO_CACHE_ENV, raising=False)
    monkeypatch.setenv(directory.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(trees, "RACY_NS", 0)
    (tmp_path / "values").mkdir()
    for name in NAMES:
        text = PROD_VALUES.read_text("utf-8").replace("name: ceosks-poc\n", f"name: {name}\n")
        (tmp_path / "values" / f"{name}.yaml").write_text(text, "utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def render(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(command.main, [*args, *(f"values/{name}.yaml" for name in NAMES)],
                                catch_exceptions=False)
    assert result.exit_code == expect, result.stderr
    return result.stdout + result.stderr


def test_unchanged_clusters_are_reused_with_the_full_runs_answer(fleet: Path, prepared: list[str]) -> None:
    render()
    assert prepared == list(NAMES)
    prepared.clear()
    assert render() == render("--no-cache")
    assert prepared == list(NAMES)  # only the --no-cache run rendered
    prepared.clear()
    assert render("--check") == f"{len(NAMES)} clusters: 0 differ, {len(NAMES)} up to date\n"
    assert prepared == []


@pytest.mark.parametrize("change", ["values", "tree", "layer", "set", "strict", "lock", "out-symlink"])
def test_a_change_renders_exactly_the_clusters_it_touches(fleet: Path, prepared: list[str], change: str) -> None:
    render()
    expected_tree = read_tree(fleet / "out" / "bravo")
    prepared.clear()
    args: list[str] = []
    expect, touched = 0, ["bravo"]
    if change == "values":
        path = fleet / "values" / "bravo.yaml"
        path.write_text(path.read_text().replace("size: 2", "size: 3"))
    elif change == "tree":
        (fleet / "out" / "bravo" / "02-storageclass" / "kustomization.yaml").write_text("# edited\n")
    elif change == "layer":
        (fleet / "values" / "base.yaml").write_text("nodepool:\n  diskSize: 60\n")
        args, touched = ["values/base.yaml"], list(NAMES)
    elif change in ("set", "strict"):
        args, touched = (["--set", "nodepool.diskSize=60"] if change == "set" else ["--strict"]), list(NAMES)
    elif change == "lock":
        (fleet / "values" / remote.LOCK_NAME).write_text('{"generator": "sks-gitops", "manifests": {}}\n')
        expect, touched = 2, list(NAMES)
    elif change == "out-symlink":
        shutil.move(fleet / "out", fleet / "real-out")
        (fleet / "out").symlink_to(fleet / "real-out")
        args, expect, touched = ["--check"], 2, list(NAMES)
    output = render(*args, expect=expect)
    assert prepared == touched
    if change == "tree":
        assert "was edited by hand; overwritten" in output and read_tree(fleet / "out" / "bravo") == expected_tree
    if expect == 0:  # and the next identical run reuses everything
        prepared.clear()
        render(*args)
        assert prepared == []


def test_a_duplicate_name_against_a_reused_cluster_is_still_refused(fleet: Path, prepared: list[str]) -> None:
    render()
    path = fleet / "values" / "charlie.yaml"
    path.write_text(path.read_text().replace("name: charlie", "name: alpha"))
    output = render(expect=2)
    assert "cluster 'alpha' is also defined by values/alpha.yaml" in output and "values/charlie.yaml:4:" in output


def test_clusters_with_warnings_are_never_recorded(fleet: Path, prepared: list[str]) -> None:
    path = fleet / "values" / "alpha.yaml"
    path.write_text(path.read_text().replace("replicas: 2", "replicas: 3"))
    for _ in range(2):
        prepared.clear()
        assert "warning" in render()
        assert "alpha" in prepared
    assert prepared == ["alpha"]


def test_diff_and_remote_modes_always_render(fleet: Path, prepared: list[str]) -> None:
    render()
    prepared.clear()
    render("--diff")
    assert prepared == list(NAMES)


def test_cluster_records_are_pruned_beyond_the_limit(fleet: Path, prepared: list[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directory, "MAX_RECORDS", 2)
    render()
    assert len(list((fleet / "cache" / "clusters").iterdir())) == 2
    prepared.clear()
    render()
    assert len(prepared) == 1  # the pruned cluster is rendered again; the other two are reused


def test_a_cluster_with_a_killed_renders_leftover_is_rendered_and_recovered(fleet: Path, prepared: list[str]) -> None:
    render()
    leftover = fleet / "out" / ".bravo.tmp-k1ll3d"
    leftover.mkdir()
    (fleet / "out" / ".bravo.lock").write_text(f"{leftover.name}\n")  # what the killed render recorded
    (fleet / "out" / ".bravo-2.tmp-other").mkdir()  # another cluster's name that merely starts the same
    prepared.clear()
    assert render("--check") == f"{len(NAMES)} clusters: 0 differ, {len(NAMES)} up to date\n"
    assert prepared == ["bravo"] and not leftover.exists()


def test_a_changed_executable_bit_is_never_reused(fleet: Path, prepared: list[str]) -> None:
    render()
    (fleet / "out" / "bravo" / "bootstrap.sh").chmod(0o644)
    prepared.clear()
    said = render("--check", expect=1)
    assert said.startswith("changed: out/bravo/bootstrap.sh\n3 clusters: 1 differ, 2 up to date\n")
    assert prepared == ["bravo"]
    render()
    assert (fleet / "out" / "bravo" / "bootstrap.sh").stat().st_mode & 0o777 == 0o755


def test_a_values_file_behind_a_retargeted_symlink_is_rendered_again(fleet: Path, prepared: list[str]) -> None:
    bravo = fleet / "values" / "bravo.yaml"
    variant = fleet / "bravo-3.yaml"
    variant.write_text(bravo.read_text().replace("size: 2", "size: 3"))
    shutil.move(bravo, fleet / "bravo-2.yaml")
    bravo.symlink_to(fleet / "bravo-2.yaml")
    render()
    prepared.clear()
    bravo.unlink()
    bravo.symlink_to(variant)
    assert "changed: out/bravo/" in render("--check", expect=1)
    assert prepared == ["bravo"]
