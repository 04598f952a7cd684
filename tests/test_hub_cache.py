"""Hub mode and the per-cluster cache (renderer/cache/clusters.py): an unchanged cluster of a hub is reused like
any other, its record keeping what the hub tree reads from it (renderer/render/hub.py: Member).

Counted, never timed: the values files that went through prepare (load -> validate -> render -> check). The
hub tree is not part of any record: it is rendered from the members, checked and compared with the disk on
every run, so a hand edit or a deletion under out/_hubs/ is found with every cluster reused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from renderer.cache import directory, trees
from renderer.model import hub as model_hub
from renderer.render import hub as render_hub
from tests.support.cli import Run, run_cli, shows

FLEET = Path(__file__).parent / "hub"
FILES = ("values/base.yaml", "values/east.yaml", "values/west.yaml")


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tests/hub/ copied to values/, the cache on, and code old enough to record (see test_reuse)."""
    monkeypatch.delenv(directory.NO_CACHE_ENV, raising=False)
    monkeypatch.setenv(directory.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(trees, "RACY_NS", 0)
    shutil.copytree(FLEET, tmp_path / "values")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def render(*args: str, expect: int = 0) -> Run:
    return run_cli(*args, *FILES, expect=expect)


def _hub_files(root: Path) -> dict[str, tuple[bytes, int]]:
    hub = root / "out" / "_hubs" / "hub"
    return {path.relative_to(hub).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(hub.rglob("*")) if path.is_file()}


def _contents(files: dict[str, tuple[bytes, int]]) -> dict[str, bytes]:
    return {path: data for path, (data, _) in files.items()}


def test_an_unchanged_hub_fleet_is_reused_and_answers_as_a_full_run(fleet: Path, prepared: list[str]) -> None:
    render()
    assert prepared == ["east", "west"]
    hub = _hub_files(fleet)
    prepared.clear()
    check = render("--check")
    assert prepared == []  # both clusters reused, the hub tree rendered from their records
    assert check.stderr == "3 trees (2 clusters, 1 hub tree): 0 differ, 3 up to date\n", shows(check)
    full = render("--check", "--no-cache")
    assert (check.stdout, check.stderr) == (full.stdout, full.stderr)
    assert prepared == ["east", "west"]  # only the --no-cache run rendered
    prepared.clear()
    again = render()
    assert prepared == [] and again.stderr.endswith("0 changed, 3 unchanged\n"), shows(again)
    assert _hub_files(fleet) == hub  # byte for byte, not even rewritten


def test_a_changed_cluster_file_renders_that_cluster_only(fleet: Path, prepared: list[str]) -> None:
    render()
    hub = _hub_files(fleet)
    west = {path: path.read_bytes() for path in (fleet / "out" / "west").rglob("*") if path.is_file()}
    east = fleet / "values" / "east.yaml"
    east.write_text(east.read_text("utf-8") + "  zone: de-fra-1\n", "utf-8")
    prepared.clear()
    check = render("--check", expect=1)
    assert prepared == ["east"], shows(check)
    assert "out/east/" in check.stdout and "out/west" not in check.stdout and "_hubs" not in check.stdout
    assert check.stderr.splitlines()[-1].endswith(f"{FILES[0]} {FILES[1]}"), shows(check)  # east only
    prepared.clear()
    render()
    assert prepared == ["east"]
    assert _hub_files(fleet) == hub
    assert {path: path.read_bytes() for path in (fleet / "out" / "west").rglob("*") if path.is_file()} == west
    prepared.clear()
    render("--check")
    assert prepared == []


def test_a_hand_edited_or_deleted_hub_file_is_stale_with_every_cluster_reused(fleet: Path,
                                                                               prepared: list[str]) -> None:
    render()
    hub = _hub_files(fleet)
    project = fleet / "out" / "_hubs" / "hub" / "project.yaml"
    project.write_text(project.read_text("utf-8").replace("hub-roots", "roots"), "utf-8")
    prepared.clear()
    check = render("--check", expect=1)
    assert prepared == [], shows(check)
    assert "changed: out/_hubs/hub/project.yaml" in check.stdout and "was edited by hand" in check.stderr, shows(check)
    assert check.stderr.splitlines()[-1].endswith(f"{FILES[0]} {FILES[1]}"), shows(check)
    render()  # the fix: written from the records, nothing rendered again
    assert prepared == [] and _contents(_hub_files(fleet)) == _contents(hub)
    (fleet / "out" / "_hubs" / "hub" / "applicationset.yaml").unlink()
    check = render("--check", expect=1)
    assert "added: out/_hubs/hub/applicationset.yaml" in check.stdout, shows(check)
    shutil.rmtree(fleet / "out" / "_hubs")
    check = render("--check", expect=1)
    assert "added: out/_hubs/hub/kustomization.yaml" in check.stdout, shows(check)
    assert prepared == []


def test_a_reused_cluster_still_holds_a_changed_one_to_its_hub(fleet: Path, prepared: list[str]) -> None:
    render()
    west = fleet / "values" / "west.yaml"
    west.write_text(west.read_text("utf-8") + "  revision: release\n", "utf-8")  # under gitops
    prepared.clear()
    run = render("--check", expect=2)
    assert prepared == ["west"]  # east is reused: its record says what it holds the hub to
    assert f"{FILES[2]}: error: gitops.hub: cluster west and cluster east ({FILES[1]}) share hub hub" in run.stderr
    assert "gitops.revision: 'main' vs 'release'" in run.stderr, shows(run)


def test_a_shared_change_renders_every_cluster_and_the_new_hub_tree(fleet: Path, prepared: list[str]) -> None:
    render()
    base = fleet / "values" / "base.yaml"
    base.write_text(base.read_text("utf-8").replace("  hub: {}\n", "  hub:\n    namespace: gitops\n"), "utf-8")
    prepared.clear()
    check = render("--check", expect=1)
    assert prepared == ["east", "west"]
    assert "changed: out/_hubs/hub/project.yaml" in check.stdout, shows(check)
    render()
    prepared.clear()
    render("--check")
    assert prepared == []
    assert "namespace: gitops" in (fleet / "out" / "_hubs" / "hub" / "project.yaml").read_text("utf-8")


def test_a_record_whose_hub_part_is_not_a_member_is_not_used(fleet: Path, prepared: list[str]) -> None:
    render()
    records = sorted((fleet / "cache" / "clusters").iterdir())
    assert len(records) == 2
    for record in records:
        body = json.loads(record.read_text("ascii"))
        assert body["hub"]["shared"]["name"] == "hub"
        body["hub"]["shared"]["prune"] = "yes"
        record.write_text(json.dumps(body), "ascii")
    prepared.clear()
    render("--check")
    assert prepared == ["east", "west"]


def test_a_member_round_trips_and_refuses_anything_else() -> None:
    shared = model_hub.Shared("hub", "argocd", "https://git.example.com/r.git", "main", "out", True, False)
    member = render_hub.Member("east", "east", shared, "1.33", "v3.22.1", "out/east")
    assert render_hub.Member.from_json(json.loads(json.dumps(member.to_json()))) == member
    for broken in ({**member.to_json(), "cluster": 1}, {**member.to_json(), "extra": "x"},
                   {key: value for key, value in member.to_json().items() if key != "shared"}):
        with pytest.raises((TypeError, KeyError)):
            render_hub.Member.from_json(broken)
