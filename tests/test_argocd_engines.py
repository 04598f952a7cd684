"""Argo CD as people run it: 2.14 and 3.x defaults, judged from the rendered objects (issue 20).

Each regression test first shows the rendered tree converging, then plays the tree with the old
defect (or a reviewer's edit) under the version where it bites and expects the reason it stops.
"""

from __future__ import annotations

from typing import Any

import pytest

from renderer.model import health
from renderer.simulate import DEADLINE, PULL_SECRET, _cluster, argocd, engines, flux, lua
from renderer.simulate import play as simulate_play
from renderer.simulate.cluster import Cluster
from renderer.simulate.outcome import Outcome
from tests.test_rollout import build, edit

ARGO_214, ARGO_30, ARGO_3 = engines.ARGOCD
CM = "argocd/argocd-cm-health.yaml"
APP_KEY = "resource.customizations.health.argoproj.io_Application"
CRD_KEY = "resource.customizations.health.apiextensions.k8s.io_CustomResourceDefinition"

OLD_CRDS_ESTABLISHED = """\
local mode = obj.metadata.annotations["sks-gitops.io/ready-when"] or "Healthy"
if mode == "Healthy" then return {status = obj.status.health.status, message = ""} end
if obj.status.sync == nil or obj.status.sync.status ~= "Synced" then
  return {status = "Progressing", message = "waiting for the sync"}
end
if mode == "CRDsEstablished" and obj.status.resources ~= nil then
  for _, resource in ipairs(obj.status.resources) do
    local healthy = resource.health ~= nil and resource.health.status == "Healthy"
    if resource.kind == "CustomResourceDefinition" and not healthy then
      return {status = "Progressing", message = "waiting for CustomResourceDefinition"}
    end
  end
end
return {status = "Healthy", message = mode}
"""
"""The rule before the fix: a CRD counts only with status.resources[].health Healthy."""


def running_cluster(*sets: str, license_after: float = 0) -> tuple[Any, dict[str, str], Cluster]:
    """A cluster whose pod network runs, the bootstrap's local files arriving once the cluster takes them."""
    cluster_model, tree = build(*sets)
    cluster = _cluster(cluster_model)
    for fact in ("nodes", "calico"):
        cluster.grant(fact)
    cluster.extra_rules += [(PULL_SECRET, ("namespace:tigera-operator",), 0),
                            ("license", ("api:projectcalico.org/v3",), int(license_after))]
    return cluster_model, tree, cluster


def play(tree: dict[str, str], version: engines.ArgoCD, *sets: str, license_after: float = 0) -> Outcome:
    cluster_model, _, cluster = running_cluster(*sets, license_after=license_after)
    return argocd.play_version(cluster_model, tree, cluster, DEADLINE, version)


def rendered(*sets: str) -> dict[str, str]:
    return build(*sets)[1]


def test_the_supported_versions_are_2_14_with_health_persisted_and_3_without() -> None:
    assert (ARGO_214.series, ARGO_214.persists_resource_health, ARGO_214.crd_health_builtin) == ("2.14", True, False)
    assert (ARGO_30.series, ARGO_30.persists_resource_health, ARGO_30.missing_counts_in_app_health) == (
        "3.0-3.3", False, True)
    assert (ARGO_3.series, ARGO_3.persists_resource_health, ARGO_3.missing_counts_in_app_health) == (
        "3.4-3.5", False, False)
    assert all(behaviour.sources for behaviour in engines.ARGOCD_BEHAVIOURS)


@pytest.mark.parametrize("version", engines.ARGOCD, ids=lambda version: version.series)
def test_the_rendered_tree_converges_under_each_version(version: engines.ArgoCD) -> None:
    outcome = play(rendered(), version)
    assert outcome.converged, outcome.problems


@pytest.mark.parametrize("version", [ARGO_30, ARGO_3], ids=lambda version: version.series)
def test_crds_established_under_3x_passes_without_resource_health(version: engines.ArgoCD) -> None:
    """Issue 20: Argo CD 3.x writes no status.resources[].health, so the old rule stopped at wave 1."""
    tree = rendered()
    assert play(tree, version).converged
    old = edit(tree, CM, lambda cm: cm["data"].__setitem__(APP_KEY, OLD_CRDS_ESTABLISHED))
    outcome = play(old, version)
    assert not outcome.converged
    assert "the root app never got past wave 1" in outcome.problems


def test_the_application_lua_reads_both_status_shapes() -> None:
    app: dict[str, Any] = {"metadata": {"annotations": {"sks-gitops.io/ready-when": "CRDsEstablished"}}}
    crd = {"kind": "CustomResourceDefinition", "name": "installations.operator.tigera.io", "status": "Synced"}
    v3 = {"sync": {"status": "Synced"}, "health": {"status": "Progressing"}, "resourceHealthSource": "appTree",
          "resources": [crd]}
    assert lua.health(health.APPLICATION_LUA, {**app, "status": v3})[0] == "Healthy"
    waiting = {"sync": {"status": "Synced"}, "health": {"status": "Progressing"},
               "resources": [{**crd, "health": {"status": "Progressing"}}]}
    assert lua.health(health.APPLICATION_LUA, {**app, "status": waiting})[0] == "Progressing"
    established = {**waiting, "resources": [{**crd, "health": {"status": "Healthy"}}]}
    assert lua.health(health.APPLICATION_LUA, {**app, "status": established})[0] == "Healthy"
    assert lua.health(health.APPLICATION_LUA, {**app, "status": {**v3, "sync": {"status": "OutOfSync"}}})[0] == (
        "Progressing")


def test_2_14_has_no_crd_health_so_the_tree_renders_one() -> None:
    """Found on the way: 2.14 has no CRD health check, so the old rule never saw a CRD Healthy there either."""
    tree = rendered()
    assert CRD_KEY in tree[CM]
    assert play(tree, ARGO_214).converged

    def old(cm: dict[str, Any]) -> None:
        cm["data"][APP_KEY] = OLD_CRDS_ESTABLISHED
        del cm["data"][CRD_KEY]

    outcome = play(edit(tree, CM, old), ARGO_214)
    assert "the root app never got past wave 1" in outcome.problems
    assert lua.health(health.CRD_LUA, engines.crd_live("x", True))[0] == "Healthy"
    assert lua.health(health.CRD_LUA, engines.crd_live("x", False))[0] == "Progressing"


LATE = 4 * 3600
"""A license applied by hand four hours after the Tigera API server serves."""


@pytest.mark.parametrize("version", engines.ARGOCD, ids=lambda version: version.series)
def test_a_late_license_does_not_spend_the_retries(version: engines.ArgoCD) -> None:
    """Issue 20: with limit 10 the bypass app gave up long before the tier came (appcontroller.go: autoSync)."""
    tree = rendered()
    assert play(tree, version, license_after=LATE).converged
    path = "argocd/apps/08-bypass-policies.yaml"
    limited = edit(tree, path, lambda app: app["spec"]["syncPolicy"]["retry"].update(limit=10))
    outcome = play(limited, version, license_after=LATE)
    assert any("08-bypass-policies: sync failed, retries spent" in line for line in outcome.problems)


def test_retry_limit_below_zero_never_runs_out() -> None:
    retry = engines.Retry.of({"spec": {"syncPolicy": {"retry": {"limit": -1, "backoff": {
        "duration": "30s", "factor": 2, "maxDuration": "5m"}}}}})
    waits = [retry.next_wait() for _ in range(200)]
    assert None not in waits and max(w for w in waits if w is not None) == 300
    assert engines.Retry.of({"spec": {"syncPolicy": {"retry": {}}}}).next_wait() is None  # limit 0: no retry


def _drop_repo(index: int) -> Any:
    return lambda project: project["spec"]["sourceRepos"].pop(index)


def test_source_repos_must_allow_every_app_repo() -> None:
    tree = rendered()
    without_chart = edit(tree, "argocd/apps/project.yaml", _drop_repo(1))
    outcome = play(without_chart, ARGO_3)
    assert any("01-longhorn: application repo https://charts.longhorn.io is not permitted" in line
               for line in outcome.problems)
    without_git = edit(tree, "argocd/apps/project.yaml", _drop_repo(0))
    assert any(line.startswith("ceosks-poc-root: application repo https://git.example.com/platform/sks-gitops.git")
               for line in play(without_git, ARGO_3).problems)


def test_project_source_globs_and_git_url_forms() -> None:
    project = engines.Project(["https://git.example.com/platform/*"], [], [], [], None, [])
    assert project.source_ok("https://git.example.com/platform/sks-gitops.git")
    assert project.source_ok("HTTPS://git.example.com/platform/sks-gitops")
    assert not project.source_ok("https://git.example.com/platform/team/sks-gitops")  # * stops at /
    denying = engines.Project(["*", "!https://git.example.com/platform/secret"], [], [], [], None, [])
    assert not denying.source_ok("https://git.example.com/platform/secret")
    assert denying.source_ok("https://charts.longhorn.io")
    assert engines.Project(["git@github.com:org/repo.git"], [], [], [], None, []).source_ok(
        "git@github.com:org/repo")


def test_cluster_kinds_must_be_whitelisted() -> None:
    tree = rendered()

    def drop_gnp(project: dict[str, Any]) -> None:
        project["spec"]["clusterResourceWhitelist"] = [
            kind for kind in project["spec"]["clusterResourceWhitelist"] if kind["kind"] != "GlobalNetworkPolicy"]

    outcome = play(edit(tree, "argocd/apps/project.yaml", drop_gnp), ARGO_3)
    assert any("08-bypass-policies: resource projectcalico.org:GlobalNetworkPolicy is not permitted" in line
               for line in outcome.problems)

    def namespaced_whitelist(project: dict[str, Any]) -> None:
        project["spec"]["namespaceResourceWhitelist"] = [{"group": "", "kind": "ConfigMap"}]

    outcome = play(edit(tree, "argocd/apps/project.yaml", namespaced_whitelist), ARGO_3)
    assert any("resource argoproj.io:Application is not permitted" in line for line in outcome.problems)


def test_the_longhorn_chart_app_needs_create_namespace() -> None:
    tree = rendered()
    path = "argocd/apps/01-longhorn.yaml"
    assert "CreateNamespace=true" in tree[path]
    outcome = play(edit(tree, path, lambda app: app["spec"]["syncPolicy"]["syncOptions"].remove(
        "CreateNamespace=true")), ARGO_3)
    assert not outcome.converged
    assert any("01-longhorn" in line and "namespaces 'longhorn-system' not found" in line
               for line in outcome.problems)


def test_client_side_apply_refuses_an_object_over_the_annotation_limit() -> None:
    big: dict[str, Any] = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "installations.operator.tigera.io"}, "spec": {"description": "x" * 262_000}}
    assert "Too long: must have at most 262144 bytes" in engines.last_applied_too_large([big])
    small = {**big, "spec": {"description": "x" * 250_000}}
    assert engines.last_applied_too_large([small]) == ""
    by_annotation = {**big, "metadata": {**big["metadata"], "annotations": {
        "argocd.argoproj.io/sync-options": "ServerSideApply=true"}}}
    assert engines.last_applied_too_large([by_annotation]) == ""


def test_the_bypass_policy_keeps_no_drift_although_the_server_fills_source() -> None:
    """Issue 20 said app 08 drifts: the Calico API server writes `source: {}` back. Argo CD's default diff
    drops live fields the last-applied configuration lacks, list items too (gitops-engine
    pkg/utils/json/json.go: RemoveListFields), so it does not; a port the server stores in another form does."""
    cluster_model, tree, cluster = running_cluster()
    assert argocd.play_version(cluster_model, tree, cluster, DEADLINE, ARGO_3).converged
    (live,) = [obj for key, obj in cluster.objects.items() if key[1] == "GlobalNetworkPolicy"]
    assert live["spec"]["egress"][0]["source"] == {}
    path = next(p for p in tree if p.startswith("08-bypass-policies/") and "kustomization" not in p)
    as_text = edit(tree, path, lambda gnp: gnp["spec"]["egress"][0]["destination"].update(
        ports=[str(port) for port in gnp["spec"]["egress"][0]["destination"]["ports"]]))
    outcome = play(as_text, ARGO_3)
    assert not outcome.converged
    assert any("08-bypass-policies: OutOfSync after every sync: GlobalNetworkPolicy" in line
               for line in outcome.problems)


def test_drift_follows_argo_cds_diff() -> None:
    config = {"spec": {"egress": [{"action": "Allow", "destination": {"ports": [30925]}}]}}
    live = {"spec": {"egress": [{"action": "Allow", "destination": {"ports": [30925]}, "source": {}}],
                     "tier": "default"}}
    assert engines.drift(config, live) == ""
    assert engines.drift(config, {"spec": {"egress": [*live["spec"]["egress"], {"action": "Deny"}]}}) != ""
    assert engines.drift({"spec": {"enabled": True}}, {"spec": {"enabled": 1}}) != ""


def test_the_operator_app_needs_server_side_apply() -> None:
    """The Installation CRD is 523,060 bytes as JSON (renderer/simulate/opaque.py: JSON_BYTES)."""
    tree = rendered()
    path = "argocd/apps/03-tigera-operator.yaml"
    assert "ServerSideApply=true" in tree[path]
    outcome = play(edit(tree, path, lambda app: app["spec"]["syncPolicy"]["syncOptions"].remove(
        "ServerSideApply=true")), ARGO_214)
    assert any(line.startswith("ceosks-poc-03-tigera-operator: CustomResourceDefinition installations.operator"
                               ".tigera.io: metadata.annotations: Too long") for line in outcome.problems)


def test_engine_both_plays_argo_cd_and_flux_together_after_the_bootstrap() -> None:
    """`engine: both`: the bootstrap hands over to both engines, which then watch one cluster at once."""
    cluster_model, tree = build("gitops.engine=both")
    outcomes = simulate_play(cluster_model, tree)
    assert [outcome.delivery for outcome in outcomes] == [
        "bootstrap, then argocd and flux together", "argocd (from a running pod network)",
        "flux (from a running pod network)"]
    assert all(outcome.converged for outcome in outcomes), [outcome.problems for outcome in outcomes]


def test_together_interleaves_both_engines_on_one_clock() -> None:
    cluster_model, tree, cluster = running_cluster("gitops.engine=both")
    outcome = argocd.with_flux(cluster_model, tree, cluster, DEADLINE, flux.run)
    assert outcome.converged, outcome.problems
    installs = [line for line in outcome.log if line.endswith("applied Installation default")]
    assert len(installs) >= 2  # once by each engine
    again = running_cluster("gitops.engine=both")[2]
    assert argocd.with_flux(cluster_model, tree, again, DEADLINE, flux.run).log == outcome.log  # deterministic


def test_together_fails_when_either_engine_is_stuck() -> None:
    cluster_model, tree, cluster = running_cluster("gitops.engine=both")
    broken = edit(tree, "argocd/apps/project.yaml", _drop_repo(1))
    outcome = argocd.with_flux(cluster_model, broken, cluster, DEADLINE, flux.run)
    assert not outcome.converged
    assert any("application repo https://charts.longhorn.io is not permitted" in line for line in outcome.problems)


def _ports_as_strings(tree: dict[str, str]) -> dict[str, str]:
    path = next(p for p in tree if p.startswith("08-bypass-policies/") and "kustomization" not in p)
    return edit(tree, path, lambda gnp: gnp["spec"]["egress"][0]["destination"].update(
        ports=[str(port) for port in gnp["spec"]["egress"][0]["destination"]["ports"]]))


def test_compare_options_that_hide_the_difference_are_honoured() -> None:
    """ServerSideDiff=true (controller/state.go) and ignoreDifferences jsonPointers
    (util/argo/normalizers/diff_normalizer.go) let app 08 read Synced although the tree says "30925"."""
    tree = _ports_as_strings(rendered())
    assert not play(tree, ARGO_3).converged
    path = "argocd/apps/08-bypass-policies.yaml"
    server_side = edit(tree, path, lambda app: app["metadata"]["annotations"].update(
        {"argocd.argoproj.io/compare-options": "ServerSideDiff=true"}))
    assert play(server_side, ARGO_3).converged
    ignored = edit(tree, path, lambda app: app["spec"].update(ignoreDifferences=[{
        "group": "projectcalico.org", "kind": "GlobalNetworkPolicy", "jsonPointers": ["/spec/egress"]}]))
    assert play(ignored, ARGO_3).converged
    elsewhere = edit(tree, path, lambda app: app["spec"].update(ignoreDifferences=[{
        "group": "projectcalico.org", "kind": "GlobalNetworkPolicy", "jsonPointers": ["/spec/ingress"]}]))
    assert not play(elsewhere, ARGO_3).converged
