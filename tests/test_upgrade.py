"""Upgrades (renderer/model/upgrade.py): a `tigera.version` change is planned from the committed out/ in the
order the cluster lives through it, and a jump Tigera does not support is refused with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.errors import TemplateError
from renderer.model import upgrade
from renderer.simulate import upgrade as simulate_upgrade
from tests.conftest import PROD_VALUES, RenderCli


@pytest.fixture
def at_3_22(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli) -> Path:
    """`out/` committed at Calico Enterprise v3.22.7 (a first render: nothing to upgrade from)."""
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES, "--set", "tigera.version=v3.22.7")
    return Path("out")


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli) -> Path:
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES)
    return Path("out")


def test_3_22_to_3_23_shows_both_releases_and_the_tier_rename_in_cluster_order(at_3_22: Path,
                                                                              render_cli: RenderCli) -> None:
    plan = render_cli("--plan", PROD_VALUES, "--set", "tigera.version=v3.23.1").stdout
    assert plan.startswith("Upgrade of ceosks-poc: v3.22.7 (out/ceosks-poc/, committed) -> v3.23.1 (these values)\n")
    order = ["1. operator manifests and CRDs v3.22.7 -> v3.23.1 (03-tigera-operator",
             "2. custom resources: the new operator reconciles them",
             "3. tier allow-tigera -> calico-system: the new operator creates tier calico-system",
             "4. 08-bypass-policies: create GlobalNetworkPolicy calico-system.apiserver-endpoint-bypass (refused until "
             "tier calico-system exists",
             "5. 08-bypass-policies: prune GlobalNetworkPolicy allow-tigera.apiserver-endpoint-bypass",
             "PruneLast=true",
             "6. the operator deletes tier allow-tigera once it is empty",
             "Rollout plan for ceosks-poc"]
    places = [plan.find(text) for text in order]
    assert -1 not in places, [text for text, place in zip(order, places, strict=True) if place < 0]
    assert places == sorted(places)


def test_the_pr_markdown_names_the_upgrade(at_3_22: Path, render_cli: RenderCli) -> None:
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, "--set", "tigera.version=v3.23.1",
                          expect=1).stdout
    assert "**Upgrade:** Calico Enterprise v3.22.7 -> v3.23.1; tier allow-tigera -> calico-system" in markdown
    assert "5. 08-bypass-policies: prune GlobalNetworkPolicy allow-tigera.apiserver-endpoint-bypass" in markdown


def test_two_releases_at_once_are_planned_with_the_pool_defaults_they_add(out: Path, render_cli: RenderCli) -> None:
    plan = render_cli("--plan", PROD_VALUES, "--set", "tigera.version=v3.21.9").stdout
    assert plan.startswith("Upgrade of ceosks-poc: v3.19.2 (out/ceosks-poc/, committed) -> v3.21.9")
    assert "06-tigera-custom-resources: Installation default: +spec.calicoNetwork.ipPools[0].assignmentMode, " \
           "+spec.calicoNetwork.ipPools[0].disableNewAllocations" in plan
    assert "tier allow-tigera ->" not in plan and "simulated from a cluster" not in plan


def test_a_patch_upgrade_is_planned_without_a_tier_change(out: Path, render_cli: RenderCli) -> None:
    plan = render_cli("--plan", PROD_VALUES, "--set", "tigera.version=v3.19.8").stdout
    assert "Upgrade of ceosks-poc: v3.19.2 (out/ceosks-poc/, committed) -> v3.19.8" in plan
    assert "tier allow-tigera ->" not in plan


def test_a_jump_of_four_releases_is_refused_with_the_documented_reason(out: Path, render_cli: RenderCli) -> None:
    run = render_cli("--plan", PROD_VALUES, "--set", "tigera.version=v3.23.1", expect=2)
    assert "tigera.version: upgrade refused: v3.19.2 -> v3.23.1 skips 4 releases; Tigera supports at most 2 at a " \
           "time" in run.stderr
    assert "upgrade to the latest v3.21 patch first" in run.stderr
    assert "kubernetes-upgrade-tsee/operator" in run.stderr


def test_no_plan_without_a_committed_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    assert "Upgrade of" not in render_cli("--plan", PROD_VALUES, "--set", "tigera.version=v3.23.1").stdout


@pytest.mark.parametrize(("old", "new", "refused"), [
    ("v3.19.2", "v3.19.8", ""), ("v3.19.8", "v3.21.9", ""), ("v3.22.7", "v3.23.1", ""),
    ("v3.19.8", "v3.22.7", "skips 3 releases"), ("v3.23.1", "v3.22.7", "downgrade")])
def test_supported_jumps(old: str, new: str, refused: str) -> None:
    why = upgrade.refusal(old, new)
    assert (refused in why) if refused else why == ""


def test_the_tier_rename_is_played_without_losing_the_bypass(at_3_22: Path, render_cli: RenderCli) -> None:
    plan = render_cli("--plan", PROD_VALUES, "--set", "tigera.version=v3.23.1", "--set", "gitops.engine=both").stdout
    assert "Argo CD (every child app syncs the new commit at once): new bypass applied at 90 s, old pruned at " \
           "90 s, bypass uninterrupted; their other egress dropped for 30 s" in plan
    assert "Flux (dependsOn at the new revision): new bypass applied at 60 s, old pruned at 60 s, bypass " \
           "uninterrupted\n" in plan


def _argocd_app(options: list[str]) -> dict[str, tuple[dict[str, object], ...]]:
    retry = {"limit": 10, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}}
    return {"argocd/apps/08-bypass-policies.yaml": ({
        "kind": "Application", "metadata": {"name": "c-08-bypass-policies"},
        "spec": {"syncPolicy": {"syncOptions": options, "retry": retry}}},)}


def test_without_prune_last_argo_cd_would_prune_the_bypass_first() -> None:
    """The mutation the PruneLast option guards against: gitops-engine prunes a wave before applying it."""
    rename = upgrade.Upgrade("v3.22.7", "v3.23.1", (), "allow-tigera", "calico-system")
    safe = simulate_upgrade.play(rename, _argocd_app(["PruneLast=true"]), ("argocd",), "c")[0]
    assert (safe.api_lost, safe.egress_cut) == (0, 30)
    with pytest.raises(TemplateError) as raised:
        simulate_upgrade.prove(rename, {}, _argocd_app([]), ("argocd",), "c")
    assert "BYPASS LOST for 90 s" in raised.value.problems[0].message


def test_a_prune_that_takes_away_what_the_new_release_needs_is_refused() -> None:
    rename = upgrade.Upgrade("v3.22.7", "v3.23.1", (), "allow-tigera", "calico-system")
    bypass = {"kind": "GlobalNetworkPolicy", "metadata": {"name": "allow-tigera.bypass"},
              "spec": {"tier": "allow-tigera", "namespaceSelector": "projectcalico.org/name in {'calico-system'}"}}
    storage = {"kind": "StorageClass", "metadata": {"name": "tigera-elasticsearch"}}
    logs = {"apiVersion": "operator.tigera.io/v1", "kind": "LogStorage", "metadata": {"name": "tigera-secure"}}
    before = {"08/policy.yaml": (bypass,), "02/sc.yaml": (storage,)}
    after = {"09/logstorage.yaml": (logs,), "02/sc.yaml": (storage,)}
    assert simulate_upgrade.needed_prunes(rename, before, after) == [
        "api-egress:calico-system (needed by TigeraStatus log-storage-kubecontrollers)"]
    moved = {**after, "08/policy.yaml": ({**bypass, "metadata": {"name": "calico-system.bypass"},
                                          "spec": {**bypass["spec"], "tier": "calico-system"}},)}
    assert simulate_upgrade.needed_prunes(rename, before, moved) == []
    assert simulate_upgrade.needed_prunes(rename, {**before, "02/sc.yaml": (storage,)},
                                          {"09/logstorage.yaml": (logs,), **{k: v for k, v in moved.items()
                                                                             if k != "02/sc.yaml"}}) == [
        "storageclass:tigera-elasticsearch (needed by TigeraStatus log-storage-elastic)"]


def test_a_bootstrap_rerun_applies_the_new_bypass_once_the_tier_exists_and_prunes_nothing() -> None:
    """bootstrap.sh on an existing cluster waits for the new tier, then applies; it never deletes, so the old
    bypass (alone in the old tier) keeps dropping those pods' other egress until the engine prunes it."""
    rename = upgrade.Upgrade("v3.22.7", "v3.23.1", (), "allow-tigera", "calico-system")
    played = simulate_upgrade.play(rename, {}, (), "c")
    assert [item.delivery.split(" (")[0] for item in played] == ["bootstrap rerun"]
    (rerun,) = played
    assert rerun.api_lost == 0 and rerun.applied == 60
    assert rerun.pruned == simulate_upgrade.HORIZON and rerun.egress_cut == simulate_upgrade.HORIZON - 60
    assert "old not pruned within 3600 s, bypass uninterrupted" in rerun.summary()


STEPS = [("v3.19.2", "v3.19.8"), ("v3.19.8", "v3.20.7"), ("v3.20.7", "v3.21.9"), ("v3.21.9", "v3.22.7"),
         ("v3.22.7", "v3.23.1")]
"""One pull request at a time, as a team moves from the seed's release to the newest series."""


@pytest.mark.parametrize(("old", "new"), STEPS, ids=[f"{old}->{new}" for old, new in STEPS])
def test_each_step_of_the_upgrade_path_is_planned_written_and_converges(old: str, new: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        render_cli: RenderCli) -> None:
    """From a tree committed at `old`: the plan names both releases, the render writes the new tree, and
    that tree as it is on disk converges in every delivery (render --verify)."""
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES, "--set", f"tigera.version={old}")
    plan = render_cli("--plan", PROD_VALUES, "--set", f"tigera.version={new}").stdout
    assert plan.startswith(f"Upgrade of ceosks-poc: {old} (out/ceosks-poc/, committed) -> {new} (these values)\n")
    render_cli(PROD_VALUES, "--set", f"tigera.version={new}")
    verified = render_cli("--verify", PROD_VALUES, "--set", f"tigera.version={new}").stdout
    assert "every tigerastatus Available" in verified and "stuck" not in verified
