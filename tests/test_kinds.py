"""A stage, a kind or a series is one declaration: every list that names them follows it.

The AppProject whitelist and destinations, the simulator's cluster scope and API gates, the schema
registry, the health table and the least-privilege expectations are derived from renderer/model/kinds.py,
Stage.delivers and renderer/model/series.py. An extra stage or kind declared in memory shows up in each
of them; a collection of kind names written anywhere else fails the scan below (a list kept by hand again).
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import get_args

import pytest

from devtools import crdschemas
from renderer import yamlio
from renderer.check import crds
from renderer.model import facts, kinds, meanings, series, stages
from renderer.render.engines import argocd
from renderer.simulate import cluster, opaque, play
from tests.test_rollout import build, failures

REPO = Path(__file__).resolve().parent.parent
WIDGET = kinds.Kind("example.io", "Widget", "v1", cluster=True, schema="series")
GADGET = kinds.Kind("example.io", "Gadget", "v1", schema="common")


def _extra_stage(plan: object) -> object:
    """`stages.plan` with one more git stage: its own namespace and a cluster-scoped kind."""
    def planned(values: object) -> tuple[stages.Stage, ...]:
        extra = stages.Stage(12, "extra", "An extra stage", "git", namespaces=("extra-system",),
                             create_namespace="extra-system", delivers=(kinds.NAMESPACE, WIDGET))
        return (*plan(values), extra)  # type: ignore[operator]
    return planned


def test_an_extra_stage_reaches_the_app_project_and_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stages, "plan", _extra_stage(stages.plan))
    cluster_model, tree = build()
    (project,) = [doc for doc in yamlio.load_all_plain(tree["argocd/apps/project.yaml"]) if doc]
    whitelist = [(entry["group"], entry["kind"]) for entry in project["spec"]["clusterResourceWhitelist"]]
    assert whitelist[-1] == ("example.io", "Widget")
    assert "extra-system" in {item["namespace"] for item in project["spec"]["destinations"]}
    assert "argocd/apps/12-extra.yaml" in tree and "12-extra/kustomization.yaml" in tree
    assert failures(play(cluster_model, tree)) == []


def test_the_whitelist_is_what_the_git_stages_deliver() -> None:
    cluster_model, _ = build()
    delivered = {kind for stage in cluster_model.git_stages for kind in stage.delivers if kind.cluster}
    listed = argocd.cluster_kinds(cluster_model)
    assert set(listed) == delivered and len(listed) == len(delivered)
    operator = [kind.kind for kind in listed if kind.group == kinds.OPERATOR_GROUP]
    assert operator == stages.tigera_kinds(cluster_model.values)


def test_an_extra_kind_reaches_every_derived_list() -> None:
    table = (*kinds.KINDS, WIDGET, GADGET)
    assert ("example.io", "Widget") in kinds.cluster_scoped(table)
    assert ("example.io", "Gadget") not in kinds.cluster_scoped(table)
    assert "example.io" in kinds.series_groups(table)
    assert crdschemas.Source("tigera-ee-v9.9.0/example.io", "v1", ("Widget",)) in crdschemas.tigera_sources(
        "tigera-ee-v9.9.0", table)
    assert crdschemas.Source("example.io", "v1", ("Gadget",)) in crdschemas.common_sources(table)
    assert kinds.whitelist([WIDGET, kinds.NAMESPACE, GADGET], table) == [kinds.NAMESPACE, WIDGET]


def test_an_extra_operator_kind_reaches_the_stages_and_the_health_table() -> None:
    row = kinds.OperatorKind("PacketCaptureAPI", "packetCaptureAPI")
    assert row.template == "packetcaptureapi.yaml"
    assert list(stages.OPTIONAL_TIGERA_KINDS.values()) == [r.kind for r in kinds.OPERATOR_KINDS if r.key]
    assert list(facts.HEALTH) == [r.kind for r in kinds.OPERATOR_KINDS]
    assert {kind for (group, kind) in cluster.CLUSTER_SCOPED if group == kinds.OPERATOR_GROUP} == set(facts.HEALTH)


def test_the_registries_in_use_are_the_derived_ones() -> None:
    assert kinds.cluster_scoped() == cluster.CLUSTER_SCOPED
    assert kinds.series_groups() == crds.TIGERA_GROUPS
    assert crdschemas.registry()["common"] == crdschemas.common_sources()
    every = {name for source in crdschemas.registry()["tigera-v3.19"] for name in source.kinds}
    assert every == {kind.kind for kind in kinds.KINDS if kind.schema == "series"}


def test_a_new_series_row_is_a_new_schema_set(monkeypatch: pytest.MonkeyPatch) -> None:
    row = dataclasses.replace(series.S3_23, series="3.99", releases=("v3.99.0",), crds="tigera-ee-v3.99.0")
    monkeypatch.setitem(series.SERIES, "3.99", row)
    assert crdschemas.registry()["tigera-v3.99"] == crdschemas.tigera_sources("tigera-ee-v3.99.0")
    assert series.row("v3.99.0") is row


VALUES_CHOICES = {
    ("secrets", "pullSecret", "provider"): meanings.PullProvider,
    ("secrets", "license", "provider"): meanings.LicenseProvider,
    ("secrets", "gitCredentials", "provider"): meanings.CredentialProvider,
    ("gitops", "engine"): meanings.EngineChoice,
    ("bypass", "mode"): meanings.BypassMode,
}


@pytest.mark.parametrize("path", sorted(VALUES_CHOICES), ids=".".join)
def test_the_meaning_types_are_the_values_schema_enums(path: tuple[str, ...]) -> None:
    node = json.loads((REPO / "schemas" / "values.schema.json").read_text("utf-8"))
    for key in path:
        node = node["properties"][key]
    assert sorted(node["enum"]) == sorted(get_args(VALUES_CHOICES[path]))


def _kind_lists(path: Path) -> list[tuple[int, list[str]]]:
    """Literal collections in one module (nested ones and dict values included) naming three or more
    declared kinds."""
    names = {kind.kind for kind in kinds.KINDS}
    found: list[tuple[int, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
            named = sorted({item.value for item in ast.walk(node)
                            if isinstance(item, ast.Constant) and item.value in names})
            if len(named) >= 3:
                found.append((node.lineno, named))
                return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text("utf-8")))
    return found


ALLOWED: dict[str, set[tuple[str, ...]] | None] = {
    "renderer/model/kinds.py": None,
    "renderer/model/series.py": None,  # each series' TigeraStatus components name the kind that turns them on
    # Felix and the Calico API server: what a policy kind does, not which kinds the tree renders.
    "renderer/simulate/cluster.py": {("GlobalNetworkPolicy", "NetworkPolicy", "Tier")},
}
"""Where a collection of kind names is the declaration itself or a behaviour (None: anywhere in the module)."""


def test_no_module_keeps_a_list_of_kinds_by_hand() -> None:
    kept = {}
    for root in ("renderer", "devtools"):
        for path in sorted((REPO / root).rglob("*.py")):
            name = path.relative_to(REPO).as_posix()
            allowed = ALLOWED.get(name, set())
            if allowed is None:
                continue
            lists = [(line, names) for line, names in _kind_lists(path) if tuple(names) not in allowed]
            if lists:
                kept[name] = lists
    assert kept == {}


def test_what_opaque_content_creates_is_within_what_its_stage_delivers() -> None:
    """Remote manifests, charts and SOPS files are declared once by reference (renderer/simulate/opaque.py);
    the cluster-scoped kinds they create are among those their stage declares (the AppProject allows those)."""
    cluster_model, _ = build("secrets.license.provider=sops", "secrets.license.encryptedFile=secrets/l.enc.yaml",
                             "gitops.engine=flux")
    checked = 0
    for stage in cluster_model.stages:
        references = [*stage.remote, *stage.extra_resources]
        if stage.helm_chart:
            references.append(f"chart:{stage.helm_chart['name']}")
        for reference in references:
            created = {(obj["apiVersion"].rpartition("/")[0], obj["kind"])
                       for obj in opaque.declared(reference, stage.namespace).objects}
            delivered = {(kind.group, kind.kind) for kind in stage.delivers}
            assert created & kinds.cluster_scoped() <= delivered, (stage.directory, reference)
            checked += 1
    assert checked >= 5
