"""renderer/render/bootstrap.py: the bootstrap's steps, their order and their waits come from the rollout model.

Fast: no script runs here (tests/test_bootstrap*.py run it against the fake cluster), except
shellcheck over the script of every valid case.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest

from renderer import pipeline
from renderer.model import stages
from renderer.model.stages import Stage
from renderer.render import bootstrap
from renderer.render.bootstrap import Step
from tests.bootstrap_support import REPO_ROOT, Bootstrap, cluster_model
from tests.support.tools import require_tool

CASES = Path(__file__).resolve().parent / "cases" / "valid"
README_FLAGS = "--dry-run --pull-secret ~/tigera-pull.json --license ~/license.yaml --git-credential ~/git-token"
SOPS = ["gitops.engine=flux", "secrets.license.provider=sops",
        "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml"]
VARIANTS = {"prod": [], "sops": SOPS, "eso": ["secrets.pullSecret.provider=external-secrets",
                                             "secrets.pullSecret.storeName=vault-backend",
                                             "secrets.pullSecret.remoteKey=tigera/pull-secret"],
            "v3.23": ["tigera.version=v3.23.1"], "hub": ["gitops.hub={}"],
            "flux-sops-eso": [*SOPS, "secrets.pullSecret.provider=external-secrets",
                              "secrets.pullSecret.storeName=vault-backend",
                              "secrets.pullSecret.remoteKey=tigera/pull-secret"]}


def names(steps: tuple[Step, ...]) -> list[str]:
    return [step.name for step in steps]


def assert_ordered_by_facts(steps: tuple[Step, ...]) -> None:
    """Every fact a step waits for that some step provides comes from an earlier step."""
    first: dict[str, int] = {}
    for index, step in enumerate(steps):
        for fact in step.provides:
            first.setdefault(fact, index)
    for index, step in enumerate(steps):
        for fact in step.needs:
            assert first.get(fact, -1) < index, f"{step.name} needs {fact}, provided later by {steps[first[fact]].name}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_step_follows_what_it_needs(variant: str) -> None:
    plan = bootstrap.plan(cluster_model(VARIANTS[variant]))
    assert_ordered_by_facts(plan.steps)
    assert names(plan.steps)[:5] == ["preflight", "security-group", "cluster", "kubeconfig", "endpoint"]
    assert len(set(names(plan.steps))) == len(plan.steps)
    assert set(plan.waits) == {fact for step in plan.steps for fact in step.needs}


def test_the_order_is_the_rollout_models() -> None:
    model = cluster_model()
    plan = bootstrap.plan(model)
    stage_steps = [step.name for step in plan.steps if step.stage is not None or step.name == "nodepool"]
    assert stage_steps == [placed.stage.directory if placed.stage.slug != "nodepool" else "nodepool"
                           for placed in model.bootstrap]


def test_prod_waits_for_nodes_and_the_tier_before_the_bypass() -> None:
    plan = bootstrap.plan(cluster_model())
    order = names(plan.steps)
    assert order.index("04-tigera-prometheus-operator") < order.index("nodepool") < order.index("07-license")
    assert order.index("07-license") < order.index("08-bypass-policies") < order.index("09-tigera-enterprise-resources")
    (bypass,) = [step for step in plan.steps if step.name == "08-bypass-policies"]
    assert set(bypass.needs) == {"api:projectcalico.org/v3", "tier:operator"}
    assert plan.waits["tier:operator"].function == "wait_tier"
    assert plan.waits["tier:operator"].args == ("allow-tigera",)
    assert order[-2:] == ["health", "handover"]


def test_calico_v3_23_waits_for_its_own_tier() -> None:
    plan = bootstrap.plan(cluster_model(["tigera.version=v3.23.1"]))
    assert plan.waits["tier:operator"].args == ("calico-system",)


def test_what_only_the_engine_delivers_follows_the_handover() -> None:
    plan = bootstrap.plan(cluster_model(SOPS))
    kinds = {step.name: step.kind for step in plan.steps}
    order = names(plan.steps)
    engine = {kinds["07-license"], kinds["08-bypass-policies"], kinds["09-tigera-enterprise-resources"]}
    assert engine == {"stage-engine"}
    assert order.index("handover") < order.index("07-license") < order.index("08-bypass-policies")
    assert order[-1] == "health" and "tier:operator" not in plan.waits


def test_a_dropped_need_moves_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The order is derived: without its need of the API server, the license would be applied before nodes."""
    real = stages.plan

    def license_without_needs(values: dict[str, Any]) -> tuple[Stage, ...]:
        return tuple(dataclasses.replace(stage, needs=()) if stage.slug == "license" else stage
                     for stage in real(values))

    monkeypatch.setattr(stages, "plan", license_without_needs)
    order = names(bootstrap.plan(cluster_model()).steps)
    assert order.index("07-license") < order.index("nodepool")


def test_a_fact_without_a_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="no wait for the fact 'frobs:x'"):
        bootstrap.wait_for("frobs:x", cluster_model())


def test_helm_values_compare_as_helm_prints_them() -> None:
    stage = Stage(1, "x", "x", "git", helm_chart={"valuesInline": {"b": {"d": 2, "c": True}, "a": "<&>é"}})
    assert bootstrap.helm_values_json(stage) == '{"a":"\\u003c\\u0026\\u003eé","b":{"c":true,"d":2}}'


def render_script(values: Path, out: Path) -> str:
    report = pipeline.execute(pipeline.Request(values_files=(values,), out_dir=out))
    (result,) = report.results
    return (out / result.cluster / "bootstrap.sh").read_text("utf-8")


@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir() if path.is_dir()))
def test_script_of_every_valid_case_is_clean_under_shellcheck(case: str, tmp_path: Path) -> None:
    script = render_script(CASES / case / "values.yaml", tmp_path)
    for function, _timeout, _text in bootstrap.WAITS.values():
        assert f"\n{function}() {{\n" in script, function
    path = tmp_path / "bootstrap.sh"
    path.write_text(script, "utf-8")
    subprocess.run(["bash", "-n", str(path)], check=True)
    done = subprocess.run([require_tool("shellcheck"), "--severity=style", str(path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_readme_shows_the_current_dry_run_plan_for_prod(tmp_path: Path) -> None:
    """README.md "Bootstrap a cluster" quotes `--dry-run` for values/prod.yaml; it stays what the script prints."""
    run = Bootstrap(tmp_path)
    env = run.env(BOOTSTRAP_POLL_INTERVAL="15", BOOTSTRAP_WAIT_TIMEOUT="300", BOOTSTRAP_APISERVER_TIMEOUT="1800",
                  BOOTSTRAP_HEALTH_TIMEOUT="2700", TMPDIR="/tmp")
    del env["BOOTSTRAP_PULL_SECRET"], env["BOOTSTRAP_LICENSE"], env["BOOTSTRAP_GIT_CREDENTIAL"]
    command = f"out/ceosks-poc/bootstrap.sh {README_FLAGS} 2>&1"
    done = subprocess.run([str(run.script), *README_FLAGS.replace("~", str(run.home)).split()], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    plan = done.stdout.replace(str(run.tree), "out/ceosks-poc").replace(str(run.home), "~")
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    assert f"```text\n$ {command}\n{plan}```\n" in readme
