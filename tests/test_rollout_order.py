"""The rollout order derived from the stage facts (renderer/model/order.py): waves, Flux dependsOn, what each
step waits for, a stage that can never be placed; and the `--plan` text that reads it (renderer/model/plan.py).

The order tests place small made-up stages (copies of one real stage with other facts), so that each rule is
seen alone; the plan tests read prod.yaml's model.
"""

from __future__ import annotations

import dataclasses

import pytest

from renderer import load, model, validate
from renderer.errors import TemplateError
from renderer.load import overrides
from renderer.model import order, plan
from renderer.model.stages import Stage
from tests.conftest import PROD_VALUES


def build(*sets: str) -> model.Model:
    loaded = overrides.apply(load.load([PROD_VALUES]), list(sets), validate.values_schema())
    return model.build(validate.validate(loaded)[0])


PROD = build()
TEMPLATE = next(stage for stage in PROD.git_stages if stage.done == "applied" and not stage.kinds)
"""A stage done once applied, carrying no operator kinds: only the facts set below count."""


def stage(position: int, needs: tuple[str, ...] = (), provides: tuple[str, ...] = ()) -> Stage:
    return dataclasses.replace(TEMPLATE, position=position, slug=f"s{position}", needs=needs, provides=provides)


def placed(*stages: Stage, **options: object) -> dict[str, tuple[int, list[str], tuple[str, ...]]]:
    """directory -> (wave, directories it depends on, facts it waits for)."""
    found = order.place(stages, (), **options)  # type: ignore[arg-type]
    return {one.stage.directory: (one.wave, [dep.directory for dep in one.depends_on], one.waits_for)
            for one in found}


def test_a_stage_joins_the_first_wave_in_which_its_needs_hold() -> None:
    assert placed(stage(1, provides=("crds:a",)), stage(2, needs=("crds:a",), provides=("ns:b",)),
                  stage(3, needs=("crds:a", "ns:b")), stage(4)) == {
        "01-s1": (1, [], ()),
        "04-s4": (1, [], ()),  # needs nothing: the first wave, whatever its position
        "02-s2": (2, ["01-s1"], ("crds:a",)),
        "03-s3": (3, ["02-s2"], ("crds:a", "ns:b")),  # 01 is implied by 02: Flux gets the direct dependency only
    }


def test_what_the_engines_cluster_already_has_is_no_dependency() -> None:
    assert "nodes" in order.ENGINE_ENVIRONMENT
    assert placed(stage(1, needs=("nodes",)), stage(2, needs=("nodes",))) == {
        "01-s1": (1, [], ()), "02-s2": (1, [], ())}


def test_a_stage_nothing_provides_for_is_refused_naming_the_missing_fact() -> None:
    with pytest.raises(TemplateError) as refused:
        placed(stage(1, provides=("crds:a",)), stage(2, needs=("crds:a", "license")))
    (problem,) = refused.value.problems
    assert (problem.file, problem.message) == ("rollout/02-s2", "can never be applied and finished: nothing provides "
                                                                "license")


def test_the_bootstrap_places_what_it_can_and_hands_the_rest_over() -> None:
    stages = (stage(1, needs=("nodes",)), stage(2, provides=("nodes",)), stage(3, needs=("license",)))
    assert placed(*stages, environment=order.BOOTSTRAP_ENVIRONMENT, partial=True) == {
        "02-s2": (1, [], ()), "01-s1": (2, ["02-s2"], ("nodes",))}  # the bootstrap starts without nodes
    with pytest.raises(TemplateError, match="nothing provides license"):
        placed(*stages, environment=order.BOOTSTRAP_ENVIRONMENT)


def test_prods_rollout_is_the_order_the_stage_facts_derive() -> None:
    waves = {one.stage.slug: one.wave for one in PROD.rollout}
    assert waves["tigera-operator"] < waves["tigera-custom-resources"] < waves["bypass-policies"] \
        < waves["tigera-enterprise-resources"]
    assert [one.wave for one in PROD.rollout] == sorted(one.wave for one in PROD.rollout)


def test_the_plan_lists_each_delivery_in_the_models_order() -> None:
    text = plan.describe(PROD, ["argocd: converged at 12m"])
    lines = text.splitlines()
    assert lines[0] == f"Rollout plan for {PROD.cluster} (renderer/model/facts.py; simulated: renderer/simulate/)"
    start = lines.index(f"bootstrap ({PROD.values.gitops.path}/bootstrap.sh), in this order:") + 1
    steps = [line for line in lines[start:start + 30] if line.startswith("  ") and not line.startswith("   ")]
    assert [step.split(":")[0].strip() for step in steps[:len(PROD.bootstrap)]] == [
        one.stage.directory for one in PROD.bootstrap]
    assert "  00-nodepool: Worker nodes (exo compute sks nodepool add)" in steps
    assert steps[len(PROD.bootstrap)] == "  then waits until every tigerastatus is Available, and hands over"
    waves = [line for line in lines if line.startswith("  wave ")]
    assert waves == [f"  wave {one.wave}: {one.stage.directory} (ready when {plan.ready_when(one.stage)})"
                     for one in PROD.rollout]
    assert lines[-2:] == ["Simulated:", "  argocd: converged at 12m"]
    assert text.endswith("\n")


def test_the_plan_says_what_a_step_waits_for_and_why() -> None:
    text = plan.describe(build("gitops.engine=flux"), [])
    first = PROD.rollout[0].stage.directory
    assert "Flux (flux/), Kustomizations:" in text and "Argo CD" not in text
    assert f"  {first}: dependsOn nothing (wait: false)" in text
    assert "  06-tigera-custom-resources: dependsOn " in text
    assert "(wait: true)" in text.split("06-tigera-custom-resources: dependsOn ")[1].splitlines()[0]
    assert "      done when Available: " in text  # the operator components a healthy stage waits for
    assert "      waits for crds:operator.tigera.io: " in text
