"""`render --plan`: per delivery, the order, what each step waits for and why (from the rollout model)."""

from __future__ import annotations

from renderer.model import Model, facts
from renderer.model.health import ready_when
from renderer.model.order import Placed


def _waits(placed: Placed, tigera: facts.Series) -> list[str]:
    own = [fact for fact in placed.stage.needs if fact in placed.waits_for]
    done = [fact for fact in placed.waits_for if fact not in own]
    lines = [f"      waits for {fact}: {facts.why(fact, tigera)}" for fact in own]
    if done:
        names = ", ".join(fact.removeprefix("component:") for fact in done)
        lines.append(f"      done when Available: {names}")
    return lines


def describe(model: Model, outcomes: list[str]) -> str:
    """The plan as plain text (also the `Rollout plan` section of the PR markdown)."""
    cluster = model.cluster
    lines = [f"Rollout plan for {cluster} (renderer/model/facts.py; simulated: renderer/simulate/)", ""]
    lines.append(f"bootstrap ({model.values.gitops.path}/bootstrap.sh), in this order:")
    for placed in model.bootstrap:
        stage = placed.stage
        how = "exo compute sks nodepool add" if stage.role == "nodepool" else (
            "from local files" if stage.delivery == "bootstrap" else "kubectl apply --server-side" if not
            stage.helm_chart else "helm upgrade --install")
        lines.append(f"  {stage.directory}: {stage.title} ({how})")
        lines += [f"      waits for {fact}: {facts.why(fact, model.tigera)}" for fact in stage.needs
                  if fact != "crds:external-secrets.io"]
    left = [stage.directory for stage in model.git_stages
            if all(placed.stage.position != stage.position for placed in model.bootstrap)]
    if left:
        lines.append(f"  then hands over (the engine applies {', '.join(left)}) and waits until every tigerastatus "
                     "is Available")
    else:
        lines.append("  then waits until every tigerastatus is Available, and hands over")
    for engine in model.engines:
        lines.append("")
        if engine == "argocd":
            lines.append("Argo CD (argocd/root-application.yaml), sync waves:")
            for placed in model.rollout:
                lines.append(f"  wave {placed.wave}: {placed.stage.directory} (ready when {ready_when(placed.stage)})")
                lines += _waits(placed, model.tigera)
        else:
            lines.append("Flux (flux/), Kustomizations:")
            for placed in model.rollout:
                after = ", ".join(dep.directory for dep in placed.depends_on) or "nothing"
                wait = "wait: true" if placed.stage.done == "healthy" else "wait: false"
                lines.append(f"  {placed.stage.directory}: dependsOn {after} ({wait})")
                lines += _waits(placed, model.tigera)
    lines += ["", "Simulated:", *(f"  {line}" for line in outcomes)]
    return "\n".join(lines) + "\n"
