"""Every Calico Enterprise series from 3.19 to 3.23: one row of operator facts each, one schema set each.

Each release a row was checked against renders through the CLI and converges in the simulator; a
version with no row is refused with exit 2 naming the supported releases; a row without its schema
set is refused too; and the facts a row carries reach the tree (tier, pool defaults) and the
simulated operator (the order of its waits).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from devtools import crdschemas
from renderer import load, model, render, validate, versions, yamlio
from renderer.errors import ValuesError
from renderer.load import overrides
from renderer.model import series
from renderer.simulate import play
from renderer.simulate.cluster import Cluster, Site
from renderer.simulate.operator import status_fields
from tests.conftest import PROD_VALUES, RenderCli

RELEASES = [release for row in series.SERIES.values() for release in row.releases]
SUPPORTED = f"supported releases: {series.supported()}"
NEWEST = max(series.SERIES.values(), key=lambda row: row.key)
NEXT = f"{NEWEST.key[0]}.{NEWEST.key[1] + 1}"
"""The series after the newest row: unsupported until its row is added (whichever that is)."""
AVAILABLE = ", ".join(f"v{name}" for name in series.SERIES)


def build(*sets: str) -> tuple[model.Model, dict[str, str]]:
    loaded = overrides.apply(load.load([PROD_VALUES]), list(sets), validate.values_schema())
    data, _ = validate.validate(loaded)
    cluster_model = model.build(data)
    return cluster_model, render.render(cluster_model)


def first(tree: dict[str, str], path: str) -> dict[str, object]:
    return next(doc for doc in yamlio.load_all_plain(tree[path]) if doc)


def test_every_series_from_3_19_on_has_a_row_and_a_schema_set() -> None:
    """Rows from 3.19, oldest first, no series skipped; each row's releases are of its series."""
    keys = [row.key for row in series.SERIES.values()]
    assert keys[0] == (3, 19) and keys == [(3, 19 + index) for index in range(len(keys))]
    assert list(series.SERIES)[:5] == ["3.19", "3.20", "3.21", "3.22", "3.23"]
    assert all(versions.minor(release) == name for name, row in series.SERIES.items() for release in row.releases)
    assert [name for name in crdschemas.registry() if name != "common"] == [
        f"tigera-v{name}" for name in series.SERIES]


@pytest.mark.parametrize("release", RELEASES)
def test_every_release_renders_and_converges(release: str, render_cli: RenderCli, tmp_path: Path) -> None:
    render_cli(PROD_VALUES, "--out", tmp_path / "out", "--set", f"tigera.version={release}")
    cluster_model, tree = build(f"tigera.version={release}")
    row = series.row(release)
    assert cluster_model.tigera is row
    (pool,) = first(tree, "06-tigera-custom-resources/installation.yaml")["spec"]["calicoNetwork"]["ipPools"]  # type: ignore[index]
    assert {key: pool[key] for key in row.pool_defaults} == row.pool_defaults
    assert first(tree, "08-bypass-policies/globalnetworkpolicy.yaml")["spec"]["tier"] == row.tier  # type: ignore[index]
    outcomes = play(cluster_model, tree)
    assert [(outcome.delivery, outcome.problems) for outcome in outcomes if not outcome.converged] == []


@pytest.mark.parametrize("version", ["v3.18.0", f"v{NEXT}.0"])
def test_a_version_without_a_row_exits_2_naming_the_supported_releases(version: str, render_cli: RenderCli,
                                                                       tmp_path: Path) -> None:
    result = render_cli(PROD_VALUES, "--out", tmp_path / "out", "--set", f"tigera.version={version}", expect=2)
    assert f"tigera.version: Calico Enterprise {version} is not supported; {SUPPORTED}" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_row_without_its_schema_set_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding a series is one row and one schema set: the row alone is not enough, and the schema
    generator already lists the set it needs."""
    monkeypatch.setitem(series.SERIES, NEXT, dataclasses.replace(NEWEST, series=NEXT, releases=(f"v{NEXT}.0",),
                                                                  crds=f"tigera-ee-v{NEXT}.0"))
    assert crdschemas.registry()[f"tigera-v{NEXT}"] == crdschemas.tigera_sources(f"tigera-ee-v{NEXT}.0")
    with pytest.raises(ValuesError) as info:
        build(f"tigera.version=v{NEXT}.0")
    messages = [problem.message for problem in info.value.problems]
    assert messages == [f"no CRD schemas for Calico Enterprise v{NEXT}; available: {AVAILABLE}"]


def test_the_pool_defaults_follow_the_operator_of_each_series() -> None:
    """pkg/controller/ippool/defaults.go: disableNewAllocations from v1.36 (3.20), assignmentMode from v1.38 (3.21)."""
    defaults = {name: row.pool_defaults for name, row in series.SERIES.items()}
    assert "disableNewAllocations" not in defaults["3.19"]
    assert defaults["3.20"]["disableNewAllocations"] is False and "assignmentMode" not in defaults["3.20"]
    assert all(defaults[name]["assignmentMode"] == "Automatic" for name in ("3.21", "3.22", "3.23"))


def test_the_tier_and_the_bypass_namespaces_change_in_3_23() -> None:
    tiers = {name: row.tier for name, row in series.SERIES.items() if row.key <= (3, 23)}
    assert tiers == {"3.19": "allow-tigera", "3.20": "allow-tigera", "3.21": "allow-tigera", "3.22": "allow-tigera",
                     "3.23": "calico-system"}
    assert series.SERIES["3.23"].bypass_namespaces == ("calico-system",)
    for row in series.SERIES.values():
        messages = [wait.message for component in row.components for wait in component.waits
                    if wait.fact == "tier:operator"]
        assert messages and all(f"Waiting for {row.tier} tier" in message for message in messages)


def test_manager_waits_for_compliance_only_when_one_is_rendered() -> None:
    """tigera/operator v1.34.5 pkg/controller/manager/manager_controller.go: 'Compliance is not ready'."""
    for row in series.SERIES.values():
        (alone,) = [c for c in row.components_for({"Manager"}) if c.name == "manager"]
        (beside,) = [c for c in row.components_for({"Manager", "Compliance"}) if c.name == "manager"]
        assert "component:compliance" not in alone.needs and "component:compliance" in beside.needs


@pytest.mark.parametrize("release", ["v3.19.2", "v3.22.7", "v3.23.1"])
def test_licensed_kinds_report_the_tier_wait_before_license_not_found(release: str) -> None:
    """Every licensed controller checks the tier before it fetches the license (e.g. v1.34.5
    pkg/controller/logcollector/logcollector_controller.go); Monitor waits for the API server from 3.19
    (its Tier watch) and for the license from 3.23 (v1.42.4 pkg/controller/monitor/monitor_controller.go)."""
    cluster = Cluster(Site(32443, "", series.row(release).tier, release))
    for fact in ("nodes", "calico", "operator", "pull-secret", "api:projectcalico.org/v3",
                 "crds:monitoring.coreos.com"):
        cluster.grant(fact)
    cluster._kinds = frozenset({"Installation", "APIServer", "LogCollector", "Monitor", "Compliance"})
    status = cluster.tigerastatus()
    tier = series.row(release).tier
    assert status["log-collector"][1].startswith(f"Waiting for {tier} tier to be created")
    assert status["compliance"][1].startswith(f"Waiting for {tier} tier to be created")
    monitor = status["monitor"]
    assert monitor[1].startswith("License not found") if release == "v3.23.1" else monitor[0] == "Progressing"


@pytest.mark.parametrize("release", [row.releases[0] for row in series.SERIES.values()])
def test_each_rows_status_facts_match_its_crds(release: str) -> None:
    """The health rules read `conditions` or `state`: each series' CRDs (schemas/crds/tigera-vX.Y) must
    declare what its row says every kind writes."""
    row = series.row(release)
    for kind, rule in row.health.items():
        fields = status_fields(kind, release)
        assert ("conditions" in fields, "state" in fields) == (rule.conditions, rule.state), kind


def test_monitor_waits_for_the_tigera_api_server() -> None:
    """v1.34.5 pkg/controller/monitor/monitor_controller.go: 'Waiting for Tier watch to be established'
    until projectcalico.org/v3 (Tier) is served, whatever the license."""
    cluster = Cluster(Site(32443, "", "allow-tigera", "v3.19.2"))
    for fact in ("nodes", "calico", "operator", "pull-secret", "crds:monitoring.coreos.com"):
        cluster.grant(fact)
    cluster._kinds = frozenset({"Installation", "Monitor"})
    assert cluster.tigerastatus()["monitor"] == ("Degraded", "Waiting for Tier watch to be established: "
                                                             "api:projectcalico.org/v3")


@pytest.mark.parametrize("release", ["v3.21.9", "v3.23.1"])
def test_a_pool_without_the_series_defaults_drifts_forever(release: str) -> None:
    """From 3.21 the operator writes assignmentMode: Automatic into the pool (v1.38.16
    pkg/controller/ippool/defaults.go); a tree without it is re-applied forever."""
    cluster_model, tree = build(f"tigera.version={release}")
    path = "06-tigera-custom-resources/installation.yaml"
    installation = first(tree, path)
    del installation["spec"]["calicoNetwork"]["ipPools"][0]["assignmentMode"]  # type: ignore[index]
    lines = [problem for outcome in play(cluster_model, {**tree, path: yamlio.dump(installation)})
             for problem in outcome.problems]
    assert any("re-applies forever" in line and "assignmentMode" in line for line in lines), lines
