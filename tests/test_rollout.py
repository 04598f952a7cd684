"""The rollout model and its simulator: every valid tree converges, and each known way not to fails.

Each regression test is named after the behaviour it guards; it first shows the current tree
converging, then plays a tree (or model) with the old defect and expects the simulator to say why
it stops. Mutations of the model itself (a dropped need, swapped stages, a wrong health rule)
must make it fail too: a simulator that passes everything proves nothing.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderer import load, model, render, validate, yamlio
from renderer.errors import TemplateError, ValuesError
from renderer.load import overrides
from renderer.model import facts, health, series, stages
from renderer.simulate import lua, play
from renderer.simulate.outcome import Outcome
from tests.conftest import PROD_VALUES, RenderCli
from tests.support.budget import examples

CASES = Path(__file__).parent / "cases" / "valid"
RELEASES = [release for row in series.SERIES.values() for release in row.releases]
"""Every release a series row was read against: each one renders and converges."""
BYPASS_NAMESPACES = tuple(dict.fromkeys(name for row in series.SERIES.values() for name in row.bypass_namespaces))


def build(*sets: str, values: Path = PROD_VALUES) -> tuple[model.Model, dict[str, str]]:
    loaded = overrides.apply(load.load([values]), list(sets), validate.values_schema())
    data, _ = validate.validate(loaded)
    cluster_model = model.build(data)
    return cluster_model, render.render(cluster_model)


def failures(outcomes: list[Outcome]) -> list[str]:
    return [f"{outcome.delivery}: {problem}" for outcome in outcomes if not outcome.converged
            for problem in outcome.problems]


def edit(tree: dict[str, str], path: str, change: Any) -> dict[str, str]:
    """A copy of the tree with one file's first object changed by `change(obj)`."""
    docs = [doc for doc in yamlio.load_all_plain(tree[path]) if doc is not None]
    change(docs[0])
    return {**tree, path: "---\n".join(yamlio.dump(doc) for doc in docs)}


@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir() if path.is_dir()))
def test_every_valid_case_converges_in_every_delivery(case: str) -> None:
    cluster_model, tree = build(values=CASES / case / "values.yaml")
    outcomes = play(cluster_model, tree)
    assert len(outcomes) == 1 + len(cluster_model.engines)
    assert failures(outcomes) == []


def test_prod_plan_orders_license_bypass_and_enterprise_resources() -> None:
    cluster_model, _ = build()
    waves = {placed.stage.slug: placed.wave for placed in cluster_model.rollout}
    assert waves["tigera-custom-resources"] < waves["bypass-policies"] < waves["tigera-enterprise-resources"]
    steps = [placed.stage.slug for placed in cluster_model.bootstrap]
    assert steps.index("nodepool") < steps.index("license") < steps.index("bypass-policies")
    assert steps[-1] == "tigera-enterprise-resources"


# --------------------------------------------------------------------------- known ways not to converge


def test_every_app_names_a_destination_namespace_the_project_allows() -> None:
    cluster_model, tree = build()
    assert failures(play(cluster_model, tree)) == []
    broken = edit(tree, "argocd/apps/02-storageclass.yaml", lambda app: app["spec"]["destination"].pop("namespace"))
    assert any("do not match any of the allowed destinations" in line for line in failures(play(cluster_model, broken)))


def _old_policyrecommendation_lua(cm: dict[str, Any]) -> None:
    cm["data"]["resource.customizations.health.operator.tigera.io_PolicyRecommendation"] = (
        health.operator_lua("Installation"))  # waits for a Ready condition, as before the fix


def test_argo_cd_health_of_policyrecommendation_reads_state_not_conditions() -> None:
    cluster_model, tree = build()
    broken = edit(tree, "argocd/argocd-cm-health.yaml", _old_policyrecommendation_lua)
    lines = failures(play(cluster_model, broken))
    assert any("09-tigera-enterprise-resources" in line and "Progressing" in line for line in lines), lines


def test_flux_cel_for_policyrecommendation_reads_state() -> None:
    cluster_model, tree = build("gitops.engine=flux")
    assert failures(play(cluster_model, tree)) == []

    def ready_condition(kustomization: dict[str, Any]) -> None:
        for entry in kustomization["spec"]["healthCheckExprs"]:
            entry["current"] = health.operator_cel("Installation")["current"]

    broken = edit(tree, "flux/09-tigera-enterprise-resources.yaml", ready_condition)
    assert any("timeout waiting for PolicyRecommendation" in line for line in failures(play(cluster_model, broken)))


def test_licensed_resources_gated_before_the_bypass_never_finish() -> None:
    cluster_model, tree = build()

    def wave(number: str) -> Any:
        return lambda app: app["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": number})

    swapped = edit(edit(tree, "argocd/apps/09-tigera-enterprise-resources.yaml", wave("3")),
                   "argocd/apps/08-bypass-policies.yaml", wave("4"))
    lines = failures(play(cluster_model, swapped))
    assert any("never got past wave 3" in line for line in lines), lines


def test_the_bootstrap_waits_for_the_tier_before_the_bypass(monkeypatch: pytest.MonkeyPatch) -> None:
    real = stages.plan

    def without_tier(values: dict[str, Any]) -> tuple[stages.Stage, ...]:
        return tuple(dataclasses.replace(stage, needs=tuple(n for n in stage.needs if n != "tier:operator"))
                     for stage in real(values))

    monkeypatch.setattr(stages, "plan", without_tier)
    cluster_model, tree = build()
    lines = failures(play(cluster_model, tree))
    assert any("08-bypass-policies" in line and "tier 'allow-tigera' not found" in line for line in lines), lines


def test_log_storage_off_with_default_bypass_namespaces_converges() -> None:
    cluster_model, tree = build("tigera.customResources.logStorage=false", "tigera.customResources.manager=false",
                                "tigera.customResources.intrusionDetection=false",
                                "tigera.customResources.compliance=false",
                                "tigera.customResources.policyRecommendation=false", "bypass.namespaces=null")
    assert "tigera-eck-operator" in cluster_model.values.bypass.namespaces
    assert failures(play(cluster_model, tree)) == []


def test_sops_with_argo_cd_is_refused_and_argo_cd_refuses_files_outside_the_root() -> None:
    with pytest.raises(ValuesError, match="sops cannot deliver the license with Argo CD"):
        build("secrets.license.provider=sops", "secrets.license.encryptedFile=secrets/license.enc.yaml")
    cluster_model, tree = build("gitops.engine=both", "secrets.license.provider=bootstrap")
    outside = {**tree, "argocd/apps/08-bypass-policies.yaml": tree["argocd/apps/08-bypass-policies.yaml"],
               "08-bypass-policies/kustomization.yaml": tree["08-bypass-policies/kustomization.yaml"].replace(
                   "- globalnetworkpolicy.yaml", "- ../../../secrets/policy.yaml")}
    lines = failures(play(cluster_model, outside))
    assert any("is not in or below the kustomization root" in line for line in lines), lines


def test_the_pull_secret_is_external_only_in_tigera_operator() -> None:
    sets = ("secrets.pullSecret.provider=external-secrets", "secrets.pullSecret.storeName=vault",
            "secrets.pullSecret.remoteKey=tigera/pull", "gitops.engine=flux")
    cluster_model, tree = build(*sets)
    secrets = list(yamlio.load_all_plain(tree["05-pull-secrets/externalsecrets.yaml"]))
    assert [doc["metadata"]["namespace"] for doc in secrets if doc] == ["tigera-operator"]
    assert failures(play(cluster_model, tree)) == []
    second = copy.deepcopy(secrets[0])
    second["metadata"]["namespace"] = "tigera-prometheus"
    broken = {**tree, "05-pull-secrets/externalsecrets.yaml": yamlio.dump(secrets[0]) + "---\n" + yamlio.dump(second)}
    lines = failures(play(cluster_model, broken))
    assert any("ESO can never own the target" in line for line in lines), lines


def test_the_installation_lists_what_the_operator_defaults() -> None:
    cluster_model, tree = build()

    def bare_pool(installation: dict[str, Any]) -> None:
        pool = installation["spec"]["calicoNetwork"]["ipPools"][0]
        for name in ("blockSize", "allowedUses", "name"):
            del pool[name]

    lines = failures(play(cluster_model, edit(tree, "06-tigera-custom-resources/installation.yaml", bare_pool)))
    assert any("re-applies forever" in line and "blockSize" in line for line in lines), lines


def test_an_ssh_repository_has_a_secret_ref() -> None:
    cluster_model, tree = build("gitops.engine=flux", "gitops.repoURL=git@git.example.com:platform/sks.git",
                                "secrets.gitCredentials.provider=none")
    (repository,) = [doc for doc in yamlio.load_all_plain(tree["flux/gitrepository.yaml"]) if doc]
    assert repository["spec"]["url"].startswith("ssh://") and repository["spec"]["secretRef"] == {"name": "flux-system"}
    assert failures(play(cluster_model, tree)) == []
    broken = edit(tree, "flux/gitrepository.yaml", lambda repo: repo["spec"].pop("secretRef"))
    assert any("ssh:// needs spec.secretRef" in line for line in failures(play(cluster_model, broken)))


def test_default_bypass_namespaces_cover_every_port_restricted_policy() -> None:
    schema = validate.values_schema()
    default = schema["properties"]["bypass"]["properties"]["namespaces"]["default"]
    assert set(default) == set(BYPASS_NAMESPACES) >= {"tigera-prometheus", "tigera-eck-operator"}
    cluster_model, tree = build("bypass.namespaces=[calico-system]", "tigera.customResources.logStorage=false",
                                "tigera.customResources.manager=false", "tigera.customResources.compliance=false",
                                "tigera.customResources.intrusionDetection=false",
                                "tigera.customResources.policyRecommendation=false")
    assert failures(play(cluster_model, tree)) == []
    with pytest.raises(ValuesError, match="must include tigera-eck-operator"):
        build("bypass.namespaces=[calico-system]")


# --------------------------------------------------------------------------- mutations of the model


def test_mutation_dropping_a_need_breaks_the_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    real = stages.plan

    def license_without_api(values: dict[str, Any]) -> tuple[stages.Stage, ...]:
        return tuple(dataclasses.replace(stage, needs=()) if stage.slug == "license" else stage
                     for stage in real(values))

    monkeypatch.setattr(stages, "plan", license_without_api)
    cluster_model, tree = build()
    lines = failures(play(cluster_model, tree))
    assert any("07-license" in line and "api:projectcalico.org/v3 missing" in line for line in lines), lines


def test_mutation_swapping_two_stages_breaks_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bypass needs the tier, which needs the license: giving the bypass's needs to the license is a cycle."""
    real = stages.plan

    def swapped(values: dict[str, Any]) -> tuple[stages.Stage, ...]:
        found = {stage.slug: stage for stage in real(values)}
        return tuple(dataclasses.replace(stage, needs=found["bypass-policies"].needs) if stage.slug == "license"
                     else stage for stage in real(values))

    monkeypatch.setattr(stages, "plan", swapped)
    with pytest.raises(TemplateError, match="can never be applied and finished"):
        build("secrets.license.provider=sops", "secrets.license.encryptedFile=secrets/l.yaml", "gitops.engine=flux")


def test_mutation_a_wrong_health_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Health rules come from facts.HEALTH; the simulated operator writes what the CRD's status allows."""
    wrong = {**facts.HEALTH, "PolicyRecommendation": facts.Health("PolicyRecommendation", conditions=True,
                                                                   state=False)}
    monkeypatch.setattr(facts, "HEALTH", wrong)
    cluster_model, tree = build()
    lines = failures(play(cluster_model, tree))
    assert any("09-tigera-enterprise-resources" in line for line in lines), lines


def test_mutation_a_component_fact_moves_the_derived_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """The order is derived, not written: if the model forgot that the tier needs the license, the
    bypass would join the license's wave (and a real cluster would refuse it)."""
    row = series.SERIES["3.19"]
    tiers = next(component for component in row.components if component.name == "tiers")
    lax = dataclasses.replace(tiers, waits=tiers.waits[:1])
    components = tuple(lax if component is tiers else component for component in row.components)
    monkeypatch.setitem(series.SERIES, "3.19", dataclasses.replace(row, components=components))
    cluster_model, _ = build()
    waves = {placed.stage.slug: placed.wave for placed in cluster_model.bootstrap}
    assert waves["bypass-policies"] == waves["license"]


# --------------------------------------------------------------------------- the Lua is run, not read


def test_the_rendered_lua_runs_without_the_string_library() -> None:
    _, tree = build()
    (cm,) = [doc for doc in yamlio.load_all_plain(tree["argocd/argocd-cm-health.yaml"]) if doc]
    for key, script in cm["data"].items():
        assert lua.health(script, {"status": {}})[0] in lua.VALID, key
    with pytest.raises(lua.LuaFailure):
        lua.health('return {status = string.upper("healthy"), message = ""}', {})


@pytest.mark.parametrize("kind", sorted(facts.HEALTH))
def test_operator_lua_reads_degraded_as_waiting_and_ready_as_healthy(kind: str) -> None:
    script = health.operator_lua(kind)
    degraded = {"status": {"conditions": [{"type": "Degraded", "status": "True", "reason": "ResourceNotFound",
                                           "message": "License not found"}]}}
    assert lua.health(script, degraded)[0] == "Progressing"
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}], "state": "Ready"}}
    assert lua.health(script, ready)[0] == "Healthy"


# --------------------------------------------------------------------------- every valid combination


COMBINATIONS = st.fixed_dictionaries({
    "engine": st.sampled_from(["argocd", "flux", "both"]),
    "pull": st.sampled_from(["bootstrap", "external-secrets"]),
    "license": st.sampled_from(["bootstrap", "sops"]),
    "mode": st.sampled_from(["port", "service"]),
    "ip": st.booleans(),
    "version": st.sampled_from(RELEASES),
    "kinds": st.fixed_dictionaries({key: st.booleans() for key in stages.OPTIONAL_TIGERA_KINDS}),
    "extra_namespaces": st.lists(st.sampled_from(["tigera-system", "tigera-manager", "kube-system"]), unique=True),
})


def _sets(combo: dict[str, Any]) -> list[str]:
    sets = [f"gitops.engine={combo['engine']}", f"bypass.mode={combo['mode']}", f"tigera.version={combo['version']}",
            f"secrets.pullSecret.provider={combo['pull']}", f"secrets.license.provider={combo['license']}"]
    if combo["pull"] == "external-secrets":
        sets += ["secrets.pullSecret.storeName=vault", "secrets.pullSecret.remoteKey=tigera/pull"]
    if combo["license"] == "sops":
        sets.append("secrets.license.encryptedFile=secrets/license.enc.yaml")
    if combo["ip"]:
        sets.append("apiServer.endpointIP=194.182.185.29")
    sets += [f"tigera.customResources.{key}={str(on).lower()}" for key, on in combo["kinds"].items()]
    namespaces = [*BYPASS_NAMESPACES, *combo["extra_namespaces"]]
    sets.append(f"bypass.namespaces=[{', '.join(namespaces)}]")
    return sets


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COMBINATIONS)
def test_every_valid_combination_converges_in_every_delivery(combo: dict[str, Any]) -> None:
    try:
        cluster_model, tree = build(*_sets(combo))
    except ValuesError as exc:
        messages = " ".join(problem.message for problem in exc.problems)
        refused_sops = "sops cannot deliver" in messages and combo["engine"] != "flux"
        assert refused_sops or "can never become Available" in messages, messages
        return
    assert failures(play(cluster_model, tree)) == []


def test_the_readme_shows_the_plan_render_prints(render_cli: RenderCli) -> None:
    """The README's `render --plan values/prod.yaml` block is exactly what the command prints today."""
    readme = (Path(__file__).parent.parent / "README.md").read_text("utf-8")
    marker = "$ .venv/bin/render --plan values/prod.yaml\n"
    shown = readme.split(marker, 1)[1].split("```", 1)[0]
    result = render_cli("--plan", PROD_VALUES)
    assert shown == result.stdout
