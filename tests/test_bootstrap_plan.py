"""renderer/bootstrap.py: the bootstrap's steps, their order and their waits come from the stage facts.

Fast: no script runs here (tests/test_bootstrap*.py run it against the fake cluster), except
shellcheck over the script of every valid case.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from renderer import bootstrap, pipeline
from renderer.bootstrap import Step
from renderer.model import Model
from renderer.stages import Stage
from tests.bootstrap_support import REPO_ROOT, Bootstrap, cluster_model
from tests.support.tools import require_tool

CASES = Path(__file__).resolve().parent / "cases" / "valid"
README_FLAGS = "--dry-run --pull-secret ~/tigera-pull.json --license ~/license.yaml"
SOPS = ["gitops.engine=flux", "secrets.license.provider=sops",
        "secrets.license.encryptedFile=secrets/ceosks-poc/license.enc.yaml"]
VARIANTS = {"prod": [], "sops": SOPS, "eso": ["secrets.pullSecret.provider=external-secrets",
                                             "secrets.pullSecret.storeName=vault-backend",
                                             "secrets.pullSecret.remoteKey=tigera/pull-secret"],
            "v3.23": ["tigera.version=v3.23.1"], "both-sops": [*SOPS, "gitops.engine=both"]}


def names(steps: tuple[Step, ...]) -> list[str]:
    return [step.name for step in steps]


def assert_ordered_by_facts(steps: tuple[Step, ...]) -> None:
    """Every fact a step needs (or follows) comes from an earlier step, or from no step at all."""
    first: dict[str, int] = {}
    for index, step in enumerate(steps):
        for fact in step.provides:
            first.setdefault(fact, index)
    for index, step in enumerate(steps):
        for fact in bootstrap.expand((*step.needs, *step.after)):
            assert first.get(fact, -1) < index, f"{step.name} needs {fact}, provided later by {steps[first[fact]].name}"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_step_follows_what_it_needs(variant: str) -> None:
    plan = bootstrap.plan(cluster_model(VARIANTS[variant]))
    assert_ordered_by_facts(plan.steps)
    assert names(plan.steps)[:5] == ["preflight", "security-group", "cluster", "kubeconfig", "endpoint"]
    assert len(set(names(plan.steps))) == len(plan.steps)
    assert set(plan.waits) == {fact for step in plan.steps for fact in step.needs}


def test_prod_waits_for_nodes_tier_and_namespaces_before_the_bypass() -> None:
    plan = bootstrap.plan(cluster_model())
    order = names(plan.steps)
    assert order.index("06-tigera-custom-resources") < order.index("nodepool") < order.index("07-license")
    (bypass,) = [step for step in plan.steps if step.name == "08-bypass-policies"]
    assert {"tier:allow-tigera", "namespace:tigera-eck-operator", "namespace:calico-system"} <= set(bypass.needs)
    assert plan.waits["tier:allow-tigera"].function == "wait_tier"
    assert plan.waits["tier:allow-tigera"].args == ("allow-tigera",)


def test_calico_v3_23_waits_for_its_own_tier() -> None:
    plan = bootstrap.plan(cluster_model(["tigera.version=v3.23.1"]))
    assert "tier:calico-system" in plan.waits and "tier:allow-tigera" not in plan.waits


def test_what_only_the_engine_delivers_follows_the_handover() -> None:
    plan = bootstrap.plan(cluster_model(SOPS))
    kinds = {step.name: step.kind for step in plan.steps}
    order = names(plan.steps)
    assert kinds["07-license"] == kinds["08-bypass-policies"] == "stage-engine"
    assert order.index("handover") < order.index("07-license") < order.index("08-bypass-policies")
    assert order[-1] == "health" and "license" in plan.waits


@dataclasses.dataclass(frozen=True)
class FactStage(Stage):
    """A stage as the rollout model will carry it: facts as tuples."""

    needs: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()  # type: ignore[assignment]


def rollout_model(model: Model) -> Model:
    """The nine stages of the rollout model (issue 12), each with needs/provides tuples."""
    facts = {
        "longhorn": ((), ("crds:longhorn.io",)),
        "storageclass": ((), ()),
        "tigera-operator": ((), ("crds:operator.tigera.io",)),
        "tigera-prometheus-operator": ((), ("crds:monitoring.coreos.com",)),
        "pull-secrets": ((), ("pull-secret",)),
        "tigera-custom-resources": (("crds:operator.tigera.io", "pull-secret"), ("api:projectcalico.org/v3",)),
        "license": (("api:projectcalico.org/v3",), ("license",)),
        "bypass-policies": (("tier:allow-tigera", "namespace:calico-system"), ("bypass",)),
    }
    fields = [field.name for field in dataclasses.fields(Stage) if field.name != "provides"]
    stages = [FactStage(**{name: getattr(stage, name) for name in fields}, needs=facts[stage.slug][0],
                        provides=facts[stage.slug][1]) for stage in model.stages]
    stages.append(FactStage(9, "tigera-licensed-resources", "Tigera licensed resources", "git",
                            needs=("license", "tier:allow-tigera", "bypass")))
    return dataclasses.replace(model, stages=tuple(stages))


def test_stages_carrying_fact_tuples_are_read_as_they_are() -> None:
    plan = bootstrap.plan(rollout_model(cluster_model()))
    assert_ordered_by_facts(plan.steps)
    order = names(plan.steps)
    assert order[order.index("06-tigera-custom-resources"):] == [
        "06-tigera-custom-resources", "nodepool", "07-license", "08-bypass-policies", "09-tigera-licensed-resources",
        "health", "handover"]
    (licensed,) = [step for step in plan.steps if step.name == "09-tigera-licensed-resources"]
    assert licensed.needs == ("license", "tier:allow-tigera", "bypass") and licensed.kind == "stage-apply"
    assert "namespace:tigera-eck-operator" not in plan.waits  # the legacy mapping is not used


def test_a_cycle_is_refused() -> None:
    steps = [Step("a", "x", "", needs=("tier:t",), provides=("license",)),
             Step("b", "x", "", needs=("license",), provides=("tier:t",))]
    with pytest.raises(ValueError, match="cycle"):
        bootstrap._order(steps)


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
    del env["BOOTSTRAP_PULL_SECRET"], env["BOOTSTRAP_LICENSE"]
    command = f"out/ceosks-poc/bootstrap.sh {README_FLAGS} 2>&1"
    done = subprocess.run([str(run.script), *README_FLAGS.replace("~", str(run.home)).split()], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    plan = done.stdout.replace(str(run.tree), "out/ceosks-poc").replace(str(run.home), "~")
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    assert f"```text\n$ {command}\n{plan}```\n" in readme
