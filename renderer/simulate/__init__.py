"""An offline rollout simulator: proves that every delivery of a rendered tree converges.

Three plays per tree, each from the state it really starts in: the bootstrap from an empty SKS
cluster, followed by the engine it hands over to; and each engine (Argo CD, Flux) on its own, from a
cluster whose pod network already runs (the engines run on it) with what the bootstrap delivers
from local files arriving as soon as the cluster accepts it. "Converged" means every TigeraStatus
Available, every app or Kustomization done, and nothing the operator keeps rewriting.
"""

from __future__ import annotations

from typing import Any

from renderer.errors import Problem, TemplateError
from renderer.model import Model, facts
from renderer.simulate import argocd, bootstrap, content, flux, selfmanaged
from renderer.simulate.cluster import Cluster, Site
from renderer.simulate.outcome import Outcome

DEADLINE = 6 * 3600
"""Simulated seconds a delivery may take (a real rollout takes well under an hour)."""

ENGINES = {"argocd": argocd.run, "flux": flux.run}


def _cluster(model: Model) -> Cluster:
    values = model.values
    site = Site(int(values.apiServer.endpointPort), values.apiServer.endpointIP or "",
                facts.operator_tier(model.tigera_series), values.tigera.version)
    cluster = Cluster(site)
    gitops = values.gitops
    for namespace in (gitops.argocdNamespace, gitops.fluxNamespace, "default", "kube-system"):
        cluster.grant(f"namespace:{namespace}")
    if values.secrets.pullSecret.provider == "external-secrets":
        cluster.grant("crds:external-secrets.io")
    return cluster


def _engine_alone(model: Model, tree: dict[str, str], engine: str) -> Outcome:
    cluster = _cluster(model)
    for fact in ("nodes", "calico"):
        cluster.grant(fact)
    for stage in model.stages:
        if stage.delivery == "bootstrap":  # what the bootstrap brings from local files, once it can
            cluster.extra_rules.append(("pull-secret", ("namespace:tigera-operator",), 0)
                                       if stage.slug == "pull-secrets" else
                                       ("license", ("api:projectcalico.org/v3",), 0))
    outcome = ENGINES[engine](model, tree, cluster, DEADLINE)
    return Outcome(f"{engine} (from a running pod network)", outcome.converged, outcome.seconds, outcome.problems,
                   outcome.log)


def _bootstrap_then_engine(model: Model, tree: dict[str, str]) -> Outcome:
    cluster = _cluster(model)
    steps = bootstrap.run(model, tree, cluster)
    engine = model.engines[0]
    if not steps.converged:
        return Outcome(f"bootstrap, then {engine}", False, cluster.now, steps.problems, cluster.log)
    outcome = ENGINES[engine](model, tree, cluster, cluster.now + DEADLINE)
    return Outcome(f"bootstrap, then {engine}", outcome.converged, outcome.seconds, outcome.problems, outcome.log)


def play(model: Model, tree: dict[str, str],
         parsed: dict[str, tuple[dict[str, Any], ...]] | None = None) -> list[Outcome]:
    if parsed:
        content.seed(tree, parsed)
    return [_bootstrap_then_engine(model, tree), *(_engine_alone(model, tree, engine) for engine in model.engines)]


def prove(model: Model, tree: dict[str, str],
          parsed: dict[str, tuple[dict[str, Any], ...]] | None = None) -> list[Outcome]:
    """Every delivery converges, or a TemplateError (exit 3) that says where each one stops."""
    outcomes = play(model, tree, parsed)
    failed = [outcome for outcome in outcomes if not outcome.converged]
    if failed:
        raise TemplateError([Problem(f"rollout ({outcome.delivery})", 0, 0, "", problem)
                             for outcome in failed for problem in outcome.problems[:8]])
    cut = selfmanaged.problems(model, tree)
    if cut:
        raise TemplateError([Problem("rollout (engine upgrade)", 0, 0, "", problem) for problem in cut])
    return outcomes
