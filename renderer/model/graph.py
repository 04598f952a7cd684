"""The rollout as a Mermaid flowchart, for the PR markdown (GitHub renders ```mermaid blocks as a graph).

The same model as the text plan (plan.py): the bootstrap's steps in their order, then per engine the
stages and what each waits for (Flux `dependsOn`, the stages an Argo CD wave waits on), so a
reviewer sees a reordering as a moved arrow. Labels are stage directories and fixed words only.
"""

from __future__ import annotations

from renderer.model import Model
from renderer.model.meanings import Engine
from renderer.model.order import Placed

_ENGINES = {"argocd": "Argo CD sync waves", "flux": "Flux Kustomizations"}


def _label(text: str) -> str:
    """A quoted Mermaid label; `"` is the one character that would end it."""
    return '"' + text.replace('"', "#quot;") + '"'


def _engine_node(engine: Engine, placed: Placed) -> str:
    stage = placed.stage
    if engine == "argocd":
        return f"wave {placed.wave}: {stage.directory}"
    return f"{stage.directory}<br/>wait: {'true' if stage.done == 'healthy' else 'false'}"


def mermaid(model: Model) -> str:
    """The flowchart text (without the fence): a left-to-right bootstrap chain handing over to each engine."""
    lines = ["flowchart TB", f"  subgraph bootstrap[{_label(f'bootstrap.sh of {model.cluster}, in order')}]",
             "    direction LR"]
    steps = [f"b{index}" for index in range(len(model.bootstrap))]
    for node, placed in zip(steps, model.bootstrap, strict=True):
        lines.append(f"    {node}[{_label(placed.stage.directory)}]")
    if len(steps) > 1:
        lines.append("    " + " --> ".join(steps))
    lines.append("  end")
    for engine in model.engines:
        prefix = "a" if engine == "argocd" else "f"
        ids = {placed.stage.position: f"{prefix}{placed.stage.position}" for placed in model.rollout}
        lines += [f"  subgraph {engine}[{_label(_ENGINES[engine])}]", "    direction LR"]
        for placed in model.rollout:
            lines.append(f"    {ids[placed.stage.position]}[{_label(_engine_node(engine, placed))}]")
        for placed in model.rollout:
            for dependency in placed.depends_on:
                lines.append(f"    {ids[dependency.position]} --> {ids[placed.stage.position]}")
        lines.append("  end")
        lines.append(f"  bootstrap -->|hands over| {engine}")
    return "\n".join(lines) + "\n"
