"""An offline rollout simulator: proves that every delivery of a rendered tree converges.

Three plays per tree, each from the state it really starts in: the bootstrap from an empty SKS
cluster, followed by the engine it hands over to; and each engine (Argo CD, Flux) on its own, from a
cluster whose pod network already runs (the engines run on it) with what the bootstrap delivers
from local files arriving as soon as the cluster accepts it. "Converged" means every TigeraStatus
Available, every app or Kustomization done, and nothing the operator keeps rewriting.

`render --verify` plays the same deliveries on the tree as it is on disk (verify.py reads it and
names, for each stuck delivery, the first object that blocks it).
"""

from __future__ import annotations

from typing import Any

from renderer.errors import Problem, TemplateError
from renderer.model import Model
from renderer.model import hub as hub_model
from renderer.model.meanings import Engine
from renderer.render import hub as render_hub
from renderer.simulate import argocd, bootstrap, content, flux, hub, selfmanaged
from renderer.simulate.cluster import ApplyError, Cluster, Site
from renderer.simulate.outcome import Outcome

PULL_SECRET = "secret:tigera-operator/tigera-pull-secret"
"""What the bootstrap's pull-secrets step creates (bootstrap.sh: kubectl create secret ... tigera-pull-secret)."""

DEADLINE = 6 * 3600
"""Simulated seconds a delivery may take (a real rollout takes well under an hour)."""

ENGINES = {"argocd": argocd.run, "flux": flux.run}


def _cluster(model: Model) -> Cluster:
    values = model.values
    site = Site(int(values.apiServer.endpointPort), values.apiServer.endpointIP or "",
                model.tigera.tier, values.tigera.version)
    cluster = Cluster(site)
    gitops = values.gitops  # the engines' and the cluster's own namespaces exist before any delivery
    for namespace in (gitops.argocdNamespace, gitops.fluxNamespace, "default", "kube-system"):
        cluster.grant(f"namespace:{namespace}")
    cluster.grant("tier:default")  # Calico's default tier always exists (served with projectcalico.org/v3)
    if values.secrets.pullSecret.provider == "external-secrets":
        cluster.grant("crds:external-secrets.io")
    if gitops.hub is not None:  # the bootstrap's hub-register step (hub.view: only when the script has one)
        cluster.grant(f"registered:{gitops.hub.clusterName}")
    return cluster


def _engine_alone(model: Model, tree: dict[str, str], engine: Engine) -> Outcome:
    cluster = _cluster(model)
    for fact in ("nodes", "calico"):
        cluster.grant(fact)
    for stage in model.stages:
        if stage.delivery == "bootstrap":  # what the bootstrap brings from local files, once it can
            cluster.extra_rules.append((PULL_SECRET, ("namespace:tigera-operator",), 0)
                                       if stage.role == "pull-secret" else
                                       ("license", ("api:projectcalico.org/v3",), 0))
    outcome = _guarded(engine, model, tree, cluster, DEADLINE)
    return Outcome(f"{engine} (from a running pod network)", outcome.converged, outcome.seconds, outcome.problems,
                   outcome.log, blocking(outcome, cluster, tree))


def _bootstrap_then_engine(model: Model, tree: dict[str, str]) -> Outcome:
    cluster = _cluster(model)
    engine = model.engines[0]
    try:
        steps = bootstrap.run(model, tree, cluster)
    except _BROKEN as exc:
        steps = _broken("bootstrap", cluster, exc)
    if not steps.converged:
        return Outcome(f"bootstrap, then {engine}", False, cluster.now, steps.problems, cluster.log,
                       blocking(steps, cluster, tree))
    if len(model.engines) > 1:  # engine: both: the bootstrap hands over to both, which then run at once
        label = " and ".join(model.engines) + " together"
        outcome = _guarded_both(model, tree, cluster, cluster.now + DEADLINE)
    else:
        label = engine
        outcome = _guarded(engine, model, tree, cluster, cluster.now + DEADLINE)
    return Outcome(f"bootstrap, then {label}", outcome.converged, outcome.seconds, outcome.problems, outcome.log,
                   blocking(outcome, cluster, tree))


_BROKEN = (KeyError, ValueError, TypeError, AttributeError, IndexError, ApplyError)
"""What a hand-edited tree can make an engine stumble on (a missing file, a list where a mapping was)."""


def _broken(delivery: str, cluster: Cluster, exc: Exception) -> Outcome:
    if isinstance(exc, KeyError):
        what = f"{exc.args[0]}: missing (a file or key the engine reads)"
    else:
        what = f"{type(exc).__name__}: {exc}"
    return Outcome(delivery, False, cluster.now, [what], cluster.log)


def _guarded(engine: Engine, model: Model, tree: dict[str, str], cluster: Cluster, deadline: float) -> Outcome:
    try:
        return ENGINES[engine](model, tree, cluster, deadline)
    except _BROKEN as exc:
        return _broken(engine, cluster, exc)


def _guarded_both(model: Model, tree: dict[str, str], cluster: Cluster, deadline: float) -> Outcome:
    try:
        return argocd.with_flux(model, tree, cluster, deadline, flux.run)
    except _BROKEN as exc:
        return _broken("argocd and flux", cluster, exc)


def blocking(outcome: Outcome, cluster: Cluster, tree: dict[str, str]) -> tuple[str, str, str] | None:
    """(file, object, reason) of the first object that keeps a stuck delivery from converging."""
    if outcome.converged:
        return None
    from renderer.simulate import verify  # the report's reading of the tree

    return verify.first_blocking(outcome, cluster, tree)


def play(model: Model, tree: dict[str, str],
         parsed: dict[str, tuple[dict[str, Any], ...]] | None = None, hub_tree: dict[str, str] | None = None,
         repo_files: set[str] | None = None) -> list[Outcome]:
    """Every delivery of `tree`. In hub mode the hub's Argo CD delivers it, from `hub_tree` (default: the one
    rendered for the model) and the ApplicationSet's view of the repository's files `repo_files` (default:
    this cluster's tree where gitops.path says)."""
    if parsed:
        content.seed(tree, parsed)
    if model.values.gitops.hub is not None:
        rendered = render_hub.render(hub_model.Shared.of(model.values)) if hub_tree is None else hub_tree
        tree, stuck = hub.view(model, tree, rendered,
                               hub.repository_files(model, tree) if repo_files is None else repo_files)
        if stuck:
            return stuck
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
