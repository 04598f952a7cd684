"""A fleet's cost, pinned by counting work (plays, checks, lookups, bytes held), never by timing.

Each saving is paired with the case that must not be saved: a shared play or a memoised check is
reused only where the full work would give the same answer, and these tests would fail with a
coarser key.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.workloads import fleet_values
from renderer import check, pipeline
from renderer.model import series
from renderer.simulate import argocd, engines, play
from renderer.simulate import cluster as cluster_
from renderer.simulate.outcome import Outcome
from tests.conftest import PROD_VALUES
from tests.test_argocd_engines import APP_KEY, CM, OLD_CRDS_ESTABLISHED
from tests.test_rollout import CASES, build, edit


def _view(outcomes: list[Outcome]) -> list[tuple[Any, ...]]:
    return [(o.delivery, o.converged, o.seconds, o.problems, o.log, o.blocking) for o in outcomes]


def _played(cluster_model: Any, tree: dict[str, str], share: bool = True) -> tuple[list[tuple[Any, ...]], int]:
    """(outcomes, play_version calls) of every delivery of the tree, versions shared or each played."""
    start = argocd.PLAYS[0]
    if share:
        return _view(play(cluster_model, tree)), argocd.PLAYS[0] - start
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argocd, "_twin", lambda *_: None)
        return _view(play(cluster_model, tree)), argocd.PLAYS[0] - start


def test_versions_whose_differing_defaults_decide_nothing_share_one_play() -> None:
    """values/prod.yaml: two deliveries that play Argo CD, three versions each: 6 plays before, 3 now (the
    two deliveries and 2.14 apart in one of them), with the outcomes of playing every version."""
    cluster_model, tree = build()
    shared, plays = _played(cluster_model, tree)
    full, every = _played(cluster_model, tree, share=False)
    assert every == 2 * len(engines.ARGOCD)
    assert plays < every
    assert shared == full


def test_a_default_that_decides_something_is_played_apart() -> None:
    """The Application health rule before issue 20 reads status.resources[].health, which only 2.14 writes: its
    play differs, so 2.14 is not shared with 3.x (a key without the defaults that decided would share it and
    report 3.x's problems for 2.14)."""
    cluster_model, tree = build()
    old = edit(tree, CM, lambda cm: cm["data"].__setitem__(APP_KEY, OLD_CRDS_ESTABLISHED))
    shared, plays = _played(cluster_model, old)
    full, _ = _played(cluster_model, old, share=False)
    assert shared == full
    assert not shared[0][1]
    assert any("[Argo CD 3.0-3.3, 3.4-3.5]" in problem for problem in shared[0][3])
    baseline = _played(cluster_model, tree)[1]
    assert plays > baseline  # 2.14 played on its own where its default decided


@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir() if path.is_dir()))
def test_sharing_plays_changes_no_outcome(case: str) -> None:
    cluster_model, tree = build(values=CASES / case / "values.yaml")
    assert _played(cluster_model, tree)[0] == _played(cluster_model, tree, share=False)[0]


def test_a_probe_notes_only_defaults_that_would_compute_something_else() -> None:
    version = argocd.Probe.of(engines.ARGOCD[1])
    argocd._decided(version, "missing_counts_in_app_health", False)
    assert version.decided == set()
    argocd._decided(version, "missing_counts_in_app_health", True)
    assert version.decided == {"missing_counts_in_app_health"}
    fields = engines.ArgoCD.__dataclass_fields__
    assert all(getattr(version, name) == getattr(engines.ARGOCD[1], name) for name in fields)  # plays as its version
    assert set(fields) >= argocd.SENSED


def test_a_version_differing_in_an_unsensed_field_is_never_shared() -> None:
    played = argocd.Probe.of(engines.ARGOCD[1])
    other = engines.ArgoCD("9.9", "v9.9.0", persists_resource_health=False, crd_health_builtin=True,
                           missing_counts_in_app_health=False)
    assert argocd._twin(other, [(played, "result")]) == "result"  # differs in an undecided default only
    played.decided.add("missing_counts_in_app_health")
    assert argocd._twin(other, [(played, "result")]) is None


def test_the_operator_series_is_read_once_per_set_of_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """components_for rebuilt every component on each call (a third of a fleet cluster's simulation)."""
    cluster_model, tree = build()
    calls: list[frozenset[str]] = []
    real = series.Series.components_for

    def counting(self: series.Series, kinds: Any) -> Any:
        calls.append(frozenset(kinds))
        return real(self, kinds)

    monkeypatch.setattr(series.Series, "components_for", counting)
    cluster_._components.cache_clear()
    cluster_._mirrored.cache_clear()
    play(cluster_model, tree)
    distinct = cluster_._components.cache_info().currsize + cluster_._mirrored.cache_info().currsize
    assert 0 < len(calls) <= distinct


# --------------------------------------------------------------------------- the check memo across a fleet


@pytest.fixture
def fleet_trees(tmp_path: Path) -> Iterator[list[tuple[Any, dict[str, str]]]]:
    check._MEMO.clear()
    trees = [build(values=path) for path in fleet_values(tmp_path / "values", 4)]
    yield trees
    check._MEMO.clear()


def test_a_file_every_cluster_renders_alike_is_checked_once_per_fleet(
        fleet_trees: list[tuple[Any, dict[str, str]]], monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = check._check_file

    def counting(text: str, *args: Any) -> check.FileCheck:
        checked.append(text)
        return real(text, *args)

    monkeypatch.setattr(check, "_check_file", counting)
    for cluster_model, tree in fleet_trees:
        check.check(tree, cluster_model)
    health = [tree["argocd/argocd-cm-health.yaml"] for _, tree in fleet_trees]
    assert len(set(health)) == 1 and checked.count(health[0]) == 1
    distinct = {(text, check._without_paths(text, check.repository_paths(model))[1])
                for model, tree in fleet_trees for text in tree.values()}
    assert len(checked) == len(distinct) < sum(len(tree) for _, tree in fleet_trees)


def test_the_same_text_is_scanned_again_where_another_path_is_cut() -> None:
    """The leak scan sees the text with the cluster's own repository paths cut: the same bytes under a cluster
    that does not name that path must be scanned as they are (a memo keyed by the text alone would answer
    clean)."""
    check._MEMO.clear()
    path = "out/Xk9QzT2mLr8VwY4nB7cJ3pD6sF1gH5aE0uR"
    text = f"path: {path}/03\n"
    named = check.check_file(text, False, "1.31", "v3.19.2", (path,))
    other = check.check_file(text, False, "1.31", "v3.19.2", ("out/elsewhere",))
    assert named.findings == ()
    assert other.findings and "high-entropy token" in other.findings[0][1]
    assert check.check_file(text, False, "1.31", "v3.19.2", (path, "out/elsewhere")) is named
    check._MEMO.clear()


def test_cutting_only_the_paths_found_gives_the_same_text() -> None:
    text = "a: out/x/y\nb: zq\n"
    cut, used = check._without_paths(text, ("out/x/y", "out/none", "zq"))
    assert used == ("out/x/y", "zq")
    assert check._without_paths(text, used)[0] == cut


# --------------------------------------------------------------------------- a fleet held packed until written


def test_a_large_fleet_is_held_packed_and_written_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = tuple(fleet_values(tmp_path / "values", 3))
    monkeypatch.setenv("SKS_GITOPS_NO_CACHE", "1")
    plain = pipeline.execute(pipeline.Request(values, out_dir=tmp_path / "plain"))
    monkeypatch.setattr(pipeline, "PACK_FROM", 2)
    packed_blobs: list[int] = []
    real = pipeline.Packed.of

    def counting(prepared: pipeline.Prepared) -> pipeline.Packed:
        packed = real(prepared)
        packed_blobs.append(len(packed.blob) * 3 < len(pickle.dumps(prepared, 5)))
        return packed

    monkeypatch.setattr(pipeline.Packed, "of", staticmethod(counting))
    packed = pipeline.execute(pipeline.Request(values, out_dir=tmp_path / "packed"))
    assert packed_blobs == [True] * 3  # each held at under a third of its pickle
    assert [(r.cluster, r.digests, r.plan, r.graph) for r in packed.results] == [
        (r.cluster, r.digests, r.plan, r.graph) for r in plain.results]
    for result in plain.results:
        for path in result.digests:
            assert (tmp_path / "packed" / result.cluster / path).read_bytes() == (
                tmp_path / "plain" / result.cluster / path).read_bytes()


def test_a_duplicate_cluster_name_is_found_among_packed_clusters(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from renderer.errors import ValuesError

    monkeypatch.setenv("SKS_GITOPS_NO_CACHE", "1")
    monkeypatch.setattr(pipeline, "PACK_FROM", 2)
    twin = tmp_path / "twin.yaml"
    twin.write_text(PROD_VALUES.read_text("utf-8"), "utf-8")
    with pytest.raises(ValuesError, match="also defined by"):
        pipeline.execute(pipeline.Request((PROD_VALUES, twin), out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the committed tree, read once


def test_a_re_render_parses_only_the_committed_files_it_did_not_render(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed tree (renderer/load/committed.py) is what --check compares with: a file on disk exactly as
    rendered has the objects the check stage parsed; only a file that differs is parsed again."""
    from renderer.load import committed

    monkeypatch.setenv("SKS_GITOPS_NO_CACHE", "1")
    request = pipeline.Request((PROD_VALUES,), out_dir=tmp_path / "out")
    pipeline.execute(request)
    parsed: list[str] = []
    real = committed.parse_output

    def counting(text: str) -> Any:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(committed, "parse_output", counting)
    first = pipeline.prepare([PROD_VALUES], request, [])
    assert parsed == []
    storage = tmp_path / "out" / "ceosks-poc" / "02-storageclass" / "storageclass.yaml"
    storage.write_text(storage.read_text("utf-8").replace('numberOfReplicas: "2"', 'numberOfReplicas: "3"'),
                       "utf-8")
    second = pipeline.prepare([PROD_VALUES], request, [])
    assert len(parsed) == 1 and 'numberOfReplicas: "3"' in parsed[0]
    assert first.plan == second.plan


# --------------------------------------------------------------------------- one flush per batch of trees


def _trees(count: int) -> list[tuple[str, dict[str, bytes]]]:
    return [(f"c{index}", {"a.yaml": f"index: {index}\n".encode(), "d/b.sh": b"#!/bin/sh\n"}) for index in range(count)]


def test_a_fleet_flushes_once_per_batch_of_trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """syncfs flushes the whole filesystem: one per tree made a fleet wait on the disk once per cluster."""
    from renderer import write

    flushes: list[int] = []
    real = write._syncfs
    monkeypatch.setattr(write, "_syncfs", lambda fd: flushes.append(fd) or real(fd))
    trees = _trees(5)
    assert [changes.added for changes in write.write_many(tmp_path, trees)] == [["a.yaml", "d/b.sh"]] * 5
    assert len(flushes) == 1
    assert write.write_many(tmp_path, trees) == [write.Changes(stuck=[])] * 5  # unchanged: nothing staged
    assert len(flushes) == 1
    for cluster, files in trees:
        for path, data in files.items():
            assert (tmp_path / cluster / path).read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [c for c, _ in trees]


def test_a_swap_failing_mid_batch_leaves_the_rest_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from renderer import write
    from renderer.errors import OutputError

    write.write_many(tmp_path, _trees(3))
    changed = [(cluster, {**files, "a.yaml": b"new: 1\n"}) for cluster, files in _trees(3)]
    swaps: list[str] = []
    real = write._swap

    def failing(held: Any, staging: Path) -> Path | None:
        swaps.append(held.cluster)
        if held.cluster == "c1":
            raise OSError(5, os.strerror(5), str(staging))
        return real(held, staging)

    monkeypatch.setattr(write, "_swap", failing)
    with pytest.raises(OutputError, match="the previous tree is unchanged"):
        write.write_many(tmp_path, changed)
    assert swaps == ["c0", "c1"]
    assert [(tmp_path / c / "a.yaml").read_bytes() for c in ("c0", "c1", "c2")] == [b"new: 1\n", b"index: 1\n",
                                                                                   b"index: 2\n"]
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name] == []


def test_a_fleet_writes_in_batches_with_the_same_trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from renderer import write

    values = tuple(fleet_values(tmp_path / "values", 3))
    monkeypatch.setenv("SKS_GITOPS_NO_CACHE", "1")
    monkeypatch.setattr(write, "WRITE_BATCH", 2)
    batches: list[list[str]] = []
    real = write.write_many
    monkeypatch.setattr(write, "write_many", lambda root, trees: batches.append([c for c, _ in trees])
                        or real(root, trees))
    report = pipeline.execute(pipeline.Request(values, out_dir=tmp_path / "out"))
    assert batches == [["bench-0000", "bench-0001"], ["bench-0002"]]
    assert [r.changes.added for r in report.results] == [sorted(r.digests) for r in report.results]
