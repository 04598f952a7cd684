"""The hub delivery as the simulator plays it (renderer/simulate/hub.py, destination.py), in memory.

The bootstrap's hub steps are the bootstrap's (renderer/render/bootstrap.py); here the STEPS table is given
the two rows the simulator reads when the rendered script lacks them, so these tests judge the hub side only.
"""

from __future__ import annotations

from typing import Any

import pytest

from renderer.model import Model
from renderer.model.hub import Shared
from renderer.render import hub as render_hub
from renderer.simulate import _cluster, destination, engines
from renderer.simulate import hub as simulate_hub
from renderer.simulate import play as simulate_play
from tests.test_rollout import build, edit

ROWS = "  'hub-register|step_hub_register|the cluster registered with the hub|'\n" \
       "  'hub-apply|step_hub_apply|the hub tree applied to the hub|'\n"
HUB = "../_hubs/hub"


def hub_fleet(*sets: str) -> tuple[Model, dict[str, str], dict[str, str]]:
    """A hub-mode cluster of values/prod.yaml: its model, its tree (with the hub steps) and its hub tree."""
    model, tree = build("gitops.hub={}", *sets)
    script = tree["bootstrap.sh"]
    if "'hub-register|" not in script:
        script = script.replace("readonly STEPS=(\n", "readonly STEPS=(\n" + ROWS, 1)
    return model, {**tree, "bootstrap.sh": script}, render_hub.render(Shared.of(model.values))


def stuck(outcomes: list[Any]) -> list[tuple[str, str]]:
    return [(outcome.blocking[0], outcome.blocking[2]) for outcome in outcomes if not outcome.converged]


def test_the_hub_delivers_the_cluster_in_every_delivery_and_version() -> None:
    model, tree, hub_tree = hub_fleet()
    outcomes = simulate_play(model, tree, None, hub_tree)
    assert [outcome.delivery for outcome in outcomes] == list(simulate_hub.DELIVERIES)
    assert all(outcome.converged for outcome in outcomes), [outcome.problems for outcome in outcomes]


def test_without_the_registration_step_the_cluster_is_never_registered() -> None:
    model, tree, hub_tree = hub_fleet()
    tree["bootstrap.sh"] = "".join(line for line in tree["bootstrap.sh"].splitlines(keepends=True)
                                   if not line.startswith("  'hub-register|"))
    found = stuck(simulate_play(model, tree, None, hub_tree))
    assert len(found) == 2 and {file for file, _ in found} == {"bootstrap.sh"}
    assert "never registered with hub hub" in found[0][1]


def test_trees_where_the_generator_does_not_look_generate_no_root() -> None:
    model, tree, hub_tree = hub_fleet()
    elsewhere = simulate_hub.repository_files(model, tree, "clusters/ceosks-poc")
    found = stuck(simulate_play(model, tree, None, hub_tree, elsewhere))
    assert found and all(file == f"{HUB}/applicationset.yaml" for file, _ in found)
    assert "matches clusters/ceosks-poc/argocd/hub-hub.json" in found[0][1]


def test_an_appset_in_another_namespace_than_the_hubs_argo_cd_is_never_read() -> None:
    model, tree, hub_tree = hub_fleet()
    hub_tree = edit(hub_tree, "applicationset.yaml", lambda obj: obj["metadata"].update(namespace="apps"))
    found = stuck(simulate_play(model, tree, None, hub_tree))
    assert "is not in namespace argocd" in found[0][1]


def test_a_tree_without_its_marker_is_never_generated() -> None:
    model, tree, hub_tree = hub_fleet()
    del tree["argocd/hub-hub.json"]
    assert stuck(simulate_play(model, tree, None, hub_tree))[0][0] == "argocd/hub-hub.json"


def test_missingkey_error_refuses_a_parameter_the_file_lacks() -> None:
    model, tree, hub_tree = hub_fleet()
    hub_tree = edit(hub_tree, "applicationset.yaml",
                    lambda obj: obj["spec"]["template"]["metadata"].update(name="{{.name}}-root"))
    found = stuck(simulate_play(model, tree, None, hub_tree))
    assert "map has no entry for key name" in found[0][1]


def test_the_health_checks_come_from_the_hub() -> None:
    model, tree, hub_tree = hub_fleet()
    without = {path: text for path, text in hub_tree.items() if path != "argocd-cm-health.yaml"}
    without["kustomization.yaml"] = without["kustomization.yaml"].replace("  - argocd-cm-health.yaml\n", "")
    outcomes = simulate_play(model, tree, None, without)
    assert not any(outcome.converged for outcome in outcomes)
    assert any("argocd/argocd-cm-health.yaml: missing" in problem for outcome in outcomes
               for problem in outcome.problems)


def test_destination_resolution_follows_argo_cd() -> None:
    plain, _ = build()
    model, _, _ = hub_fleet()
    cluster = _cluster(model)
    in_cluster = {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
    assert destination.resolve(plain, _cluster(plain), in_cluster) == ("https://kubernetes.default.svc",
                                                                       "in-cluster", "")
    assert destination.resolve(model, cluster, {"name": "ceosks-poc"}) == (destination.address("ceosks-poc"),
                                                                          "ceosks-poc", "")
    assert destination.resolve(model, cluster, {"name": "other"})[2] == "there are no clusters with this name: other"
    assert "the hub itself" in destination.resolve(model, cluster, in_cluster)[2]
    assert "can't have both name and server" in destination.resolve(model, cluster, {**in_cluster, "name": "x"})[2]


def test_project_destinations_match_the_resolved_clusters_name_or_server() -> None:
    project = engines.Project.of({"spec": {"destinations": [{"name": "ceosks-*", "namespace": "tigera-*"},
                                                            {"server": "https://a.example", "namespace": "*"}]}})
    assert project.destination_ok("https://b.example", "tigera-operator", "ceosks-poc")
    assert not project.destination_ok("https://b.example", "kube-system", "ceosks-poc")
    assert project.destination_ok("https://a.example", "kube-system", "other")
    assert not project.destination_ok("https://b.example", "tigera-operator", "")


def test_a_model_that_forgets_the_registration_fails_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator is not a rubber stamp: without the registered cluster, no child resolves."""
    model, tree, hub_tree = hub_fleet()
    monkeypatch.setattr(destination, "registered", lambda cluster: {})
    outcomes = simulate_play(model, tree, None, hub_tree)
    assert not any(outcome.converged for outcome in outcomes)
    assert any("there are no clusters with this name: ceosks-poc" in problem for outcome in outcomes
               for problem in outcome.problems)


def test_the_hub_tree_depends_only_on_what_the_hubs_clusters_share() -> None:
    """Any cluster of the hub renders the same bytes (renderer/model/hub.py: Shared), whatever else differs."""
    _, _, first = hub_fleet()
    _, _, other = hub_fleet("cluster.name=west", "tigera.version=v3.23.1", "cluster.kubernetesVersion=1.33.2",
                            "gitops.argocdNamespace=gitops", "secrets.pullSecret.provider=external-secrets",
                            "secrets.pullSecret.storeName=vault", "secrets.pullSecret.remoteKey=tigera/pull")
    assert other == first
    _, _, moved = hub_fleet("gitops.automated.prune=false")
    assert moved != first
