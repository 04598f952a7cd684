"""Derive the rollout order from the stage facts: Argo CD waves, Flux dependsOn, the bootstrap's steps.

A stage joins the earliest wave in which everything it needs holds and, when it is done only once
healthy, everything its operator components need holds too (counting what earlier waves provide
and what the cluster then does by itself: facts.RUNTIME_RULES and the operator components). Its
Flux dependencies are the stages that fact derivation actually used. A stage that can never be
placed is a model bug, except for values combinations that renderer/validate refuses first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from renderer.errors import Problem, TemplateError
from renderer.model import facts
from renderer.model.stages import Stage

ENGINE_ENVIRONMENT = ("nodes", "crds:external-secrets.io")
"""What an engine's own cluster already has: nodes (Argo CD and Flux run on them) and, when the pull
secret comes from External Secrets, the ESO CRDs (the bootstrap refuses to hand over without ESO)."""


ENGINE_RUNS = ("calico",)
"""Where an engine runs, the pod network runs (its pods need Calico): what its own stage may count on."""


BOOTSTRAP_ENVIRONMENT = ("crds:external-secrets.io",)
"""The bootstrap starts from a cluster with no nodes; it adds them in its `nodepool` step."""


@dataclass(frozen=True)
class Placed:
    stage: Stage
    wave: int
    depends_on: tuple[Stage, ...]
    waits_for: tuple[str, ...]
    """Facts whose derivation used an earlier stage: what this stage really waits for."""


@dataclass
class _Knowledge:
    """Facts that hold and the stages each one's derivation used."""

    components: tuple[facts.Component, ...]
    """The operator components of every kind the tree renders (Series.components_for)."""
    support: dict[str, frozenset[int]] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)

    def holds(self, fact: str) -> bool:
        return fact in self.support

    def add(self, fact: str, support: frozenset[int]) -> None:
        self.support.setdefault(fact, support)

    def copy(self) -> _Knowledge:
        return _Knowledge(self.components, dict(self.support), dict(self.kinds))

    def close(self) -> None:
        """Add every runtime fact and component whose needs hold, until nothing changes."""
        rules = [(rule.provides, rule.needs, frozenset[int]()) for rule in facts.RUNTIME_RULES]
        for component in self.components:
            if component.kind in self.kinds:
                owner = frozenset({self.kinds[component.kind]})
                for fact in (f"component:{component.name}", *component.provides):
                    rules.append((fact, component.needs, owner))
        changed = True
        while changed:
            changed = False
            for fact, needs, owner in rules:
                if not self.holds(fact) and all(self.holds(need) for need in needs):
                    self.add(fact, owner.union(*(self.support[need] for need in needs)))
                    changed = True


def done_requirements(stage: Stage, components: tuple[facts.Component, ...]) -> tuple[str, ...]:
    """Facts that must hold for the stage to count as done (beyond being applied): the mirrored components
    of its kinds."""
    if stage.done != "healthy":
        return ()
    return tuple(f"component:{component.name}" for kind in stage.kinds for component in components
                 if component.kind == kind and component.mirrored)


def _try(stage: Stage, known: _Knowledge) -> _Knowledge | None:
    """Knowledge after applying `stage` when it can be applied and finish now, else None."""
    if not all(known.holds(need) for need in stage.needs):
        return None
    trial = known.copy()
    own = frozenset({stage.position}).union(*(known.support[need] for need in stage.needs))
    for fact in stage.provides:
        trial.add(fact, own)
    for kind in stage.kinds:
        trial.kinds[kind] = stage.position
    trial.close()
    if all(trial.holds(fact) for fact in done_requirements(stage, known.components)):
        return trial
    return None


def _reduce(positions: set[int], depends: dict[int, set[int]]) -> set[int]:
    """Drop dependencies another dependency already implies (Flux needs only the direct ones)."""
    def reach(position: int, seen: set[int]) -> set[int]:
        for child in depends.get(position, set()):
            if child not in seen:
                seen.add(child)
                reach(child, seen)
        return seen

    implied: set[int] = set()
    for position in positions:
        implied |= reach(position, set())
    return positions - implied


def place(stages: tuple[Stage, ...], components: tuple[facts.Component, ...],
          environment: tuple[str, ...] = ENGINE_ENVIRONMENT, partial: bool = False) -> tuple[Placed, ...]:
    """Waves and dependencies for stages delivered together by one engine (or the bootstrap).

    `partial`: stop quietly where nothing more can be placed (the bootstrap hands the rest over)."""
    known = _Knowledge(components)
    for fact in environment:
        known.add(fact, frozenset())
    known.close()
    by_position = {stage.position: stage for stage in stages}
    remaining = sorted(stages, key=lambda stage: stage.position)
    placed: list[Placed] = []
    depends: dict[int, set[int]] = {}
    wave = 0
    while remaining:
        wave += 1
        ready = [(stage, trial) for stage in remaining if (trial := _try(stage, known)) is not None]
        if not ready:
            if partial:
                break
            raise TemplateError([_stuck(stage, known) for stage in remaining])
        for stage, trial in ready:
            done = done_requirements(stage, known.components)
            used = set().union(*(trial.support[fact] for fact in (*stage.needs, *done)))
            used.discard(stage.position)
            depends[stage.position] = used
            waits = tuple(fact for fact in (*stage.needs, *done)
                          if trial.support[fact] - {stage.position})
            placed.append(Placed(stage, wave, tuple(by_position[p] for p in sorted(_reduce(used, depends))),
                                 waits))
        for _, trial in ready:
            known.support.update({fact: support for fact, support in trial.support.items()
                                  if fact not in known.support})
            known.kinds.update(trial.kinds)
        known.close()
        done_now = {stage.position for stage, _ in ready}
        remaining = [stage for stage in remaining if stage.position not in done_now]
    return tuple(placed)


def _stuck(stage: Stage, known: _Knowledge) -> Problem:
    missing = [need for need in stage.needs if not known.holds(need)]
    if not missing:
        trial = known.copy()
        for fact in stage.provides:
            trial.add(fact, frozenset())
        for kind in stage.kinds:
            trial.kinds[kind] = stage.position
        trial.close()
        missing = [fact for fact in done_requirements(stage, known.components) if not trial.holds(fact)]
    return Problem(f"rollout/{stage.directory}", 0, 0, "",
                   f"can never be applied and finished: nothing provides {', '.join(missing)}")
