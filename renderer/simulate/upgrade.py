"""The tier rename played from a cluster converged on the committed tree: does a Tigera component lose its bypass?

Only what decides the bypass is modelled, read in the sources: the engine syncs the new commit; the new
operator runs OPERATOR seconds after its stage is applied and its tiers controller creates the new tier
the `tiers` component's seconds later (renderer/model/facts.py: RUNTIME_RULES; renderer/model/series.py);
from then on every component's policies are in the new tier, earliest case (tigera/operator v1.42.4
pkg/render: DeprecatedAllowTigeraNetworkPolicyObject). The bypass stage is applied when the engine says
(below), refused while its tier is missing, and the old policy pruned when the engine prunes.

Evaluation follows the Tier reference (docs.tigera.io calico-enterprise reference/resources/tier, "How policy
is evaluated"): tiers of equal order apply in name order (both are order 100: pkg/render/tiers/tiers.go), an
Allow ends evaluation, and a tier whose policies select the pod but take no action drops the packet. So:
  - the endpoint is lost when the first tier selecting the pod has the operator's policies (443/6443/12388
    only) and no bypass;
  - the pod's other egress is dropped while the old bypass is the only policy left in the old tier.
Engines, from the rendered objects: Argo CD syncs every child app on the new commit at once (their specs do
not change, so the root's waves order nothing), retries a failed sync with the rendered backoff, and prunes
a wave before applying it unless PruneLast=true (argo-cd v3.5.1 gitops-engine/pkg/sync/sync_context.go:
runTasks, "prune first"; the pruneLast wave override). Flux applies once the dependencies are ready at the
new revision, retries after retryInterval, and prunes only after a successful apply (fluxcd/kustomize-
controller v1.9.4 internal/controller/kustomization_controller.go: reconcile, r.apply before r.prune).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from renderer.errors import Problem, TemplateError
from renderer.model import facts, series
from renderer.model.meanings import Engine
from renderer.model.upgrade import Upgrade
from renderer.simulate.engines import Retry, seconds
from renderer.simulate.felix import selected_namespaces

Objects = dict[str, tuple[dict[str, Any], ...]]

OPERATOR = next(rule.seconds for rule in facts.RUNTIME_RULES if rule.provides == "operator")
HORIZON = 3600


@dataclass(frozen=True)
class Played:
    delivery: str
    applied: float
    """When the new bypass was applied (seconds after the commit reached the engine)."""
    pruned: float
    api_lost: float
    """Seconds during which a bypass namespace could not reach the API server's real endpoint."""
    egress_cut: float
    """Seconds during which the old bypass, alone in the old tier, dropped those pods' other egress."""

    def summary(self) -> str:
        verdict = "bypass uninterrupted" if not self.api_lost else f"BYPASS LOST for {self.api_lost:.0f} s"
        cut = (f"; their other egress dropped for {self.egress_cut:.0f} s by the old bypass alone in the old tier "
               "(a tier that selects a pod and takes no action drops it)") if self.egress_cut else ""
        pruned = (f"old pruned at {self.pruned:.0f} s" if self.pruned < HORIZON else
                  f"old not pruned within {HORIZON} s")
        return f"{self.delivery}: new bypass applied at {self.applied:.0f} s, {pruned}, {verdict}{cut}"


def _named(objects: Objects, kind: str, suffix: str) -> dict[str, Any]:
    for documents in objects.values():
        for obj in documents:
            if obj.get("kind") == kind and str((obj.get("metadata") or {}).get("name", "")).endswith(suffix):
                return obj
    return {}


def _attempts(first: float, app: dict[str, Any]) -> list[float]:
    """Times of a sync and its retries, by the app's rendered retry policy (engines.Retry: Argo CD's backoff; a
    negative limit retries without end, here up to the horizon)."""
    retry = Retry.of(app)
    times, at = [first], first
    while at <= HORIZON and (wait := retry.next_wait()) is not None:
        at += wait
        times.append(at)
    return times


def _windows(tier_at: float, applied: float, pruned: float) -> tuple[float, float]:
    """(endpoint lost, other egress cut) in seconds, integrated over the timeline's intervals."""
    marks = sorted({0.0, tier_at, applied, pruned, HORIZON})
    lost = cut = 0.0
    for start, end in itertools.pairwise(marks):
        old_bypass, new_bypass, moved = start < pruned, start >= applied, start >= tier_at
        if old_bypass:
            cut += (end - start) if moved else 0.0
        elif not moved or not new_bypass:
            lost += end - start
    return lost, cut


def play(upgrade: Upgrade, objects: Objects, engines: tuple[Engine, ...], cluster: str) -> list[Played]:
    """Each engine's delivery of the tier rename, then a bootstrap rerun's (nothing when the tier does not
    change)."""
    if upgrade.old_tier == upgrade.new_tier:
        return []
    tiers = next(component.seconds for component in series.row(upgrade.new).components if component.name == "tiers")
    tier_at = OPERATOR + tiers
    played = []
    for engine in engines:
        if engine == "argocd":
            app = _named(objects, "Application", f"{cluster}-08-bypass-policies")
            policy = (app.get("spec") or {}).get("syncPolicy") or {}
            attempts = _attempts(0.0, app)
            applied = next((at for at in attempts if at >= tier_at), float(HORIZON))
            prune_last = "PruneLast=true" in (policy.get("syncOptions") or [])
            pruned = applied if prune_last else 0.0
            delivery = "Argo CD (every child app syncs the new commit at once)"
        else:
            kustomization = _named(objects, "Kustomization", f"{cluster}-08-bypass-policies")
            retry = seconds((kustomization.get("spec") or {}).get("retryInterval", "1m"))
            attempt = 0.0
            while attempt < tier_at:
                attempt += retry
            applied = pruned = attempt
            delivery = "Flux (dependsOn at the new revision)"
        lost, cut = _windows(tier_at, applied, pruned)
        played.append(Played(delivery, applied, pruned, lost, cut))
    played.append(_bootstrap_rerun(tier_at))
    return played


def _bootstrap_rerun(tier_at: float) -> Played:
    """bootstrap.sh run again on the cluster: its bypass step polls for the new tier (tier:operator, within
    --wait-timeout) and applies the new bypass once it exists; the script never deletes anything, so the old
    bypass stays until the engine prunes it after the handover (templates/bootstrap/: apply --server-side only)."""
    from renderer.simulate.bootstrap import POLL, WAIT_TIMEOUT

    polls = -(-tier_at // POLL)
    applied = polls * POLL if tier_at <= WAIT_TIMEOUT else float(HORIZON)
    lost, cut = _windows(tier_at, applied, float(HORIZON))
    return Played("bootstrap rerun (it never prunes: the engine prunes the old bypass after the handover)", applied,
                  float(HORIZON), lost, cut)


def _provides(objects: Objects, tier: str) -> set[str]:
    """The facts a tree's objects make true (renderer/model/facts.py names): storage classes, and the api-egress a
    policy of `tier` gives the namespaces it selects (felix.selected_namespaces; None = every bypass default)."""
    found = set()
    for documents in objects.values():
        for obj in documents:
            spec = obj.get("spec") or {}
            if obj.get("kind") == "StorageClass":
                found.add(f"storageclass:{(obj.get('metadata') or {}).get('name')}")
            elif obj.get("kind") == "GlobalNetworkPolicy" and spec.get("tier") == tier:
                selected = selected_namespaces(str(spec.get("namespaceSelector", "all()")))
                found |= {f"api-egress:{name}" for name in (selected if selected is not None else ())}
    return found


def needed_prunes(upgrade: Upgrade, before: Objects, after: Objects) -> list[str]:
    """Facts the pruned objects gave the old release that an enabled component of the new one needs and nothing
    in the new tree gives."""
    kept = {(obj.get("kind"), (obj.get("metadata") or {}).get("name")) for documents in after.values()
            for obj in documents}
    pruned = {path: tuple(obj for obj in documents if (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
                          not in kept) for path, documents in before.items()}
    row = series.row(upgrade.new)
    kinds = {str(obj.get("kind")) for documents in after.values() for obj in documents
             if str(obj.get("apiVersion", "")).startswith("operator.tigera.io/")}
    needed = {need: component.name for component in row.components_for(kinds) for need in component.needs}
    lost = _provides(pruned, upgrade.old_tier) - _provides(after, upgrade.new_tier)
    return [f"{fact} (needed by TigeraStatus {needed[fact]})" for fact in sorted(lost) if fact in needed]


def prove(upgrade: Upgrade, before: Objects, after: Objects, engines: tuple[Engine, ...], cluster: str) -> list[str]:
    """The summaries, or a TemplateError (exit 3) when a delivery leaves a bypass namespace without the endpoint or
    a prune takes away what the new release needs."""
    played = play(upgrade, after, engines, cluster)
    problems = [Problem(f"upgrade ({item.delivery})", 0, 0, "", item.summary()) for item in played if item.api_lost]
    problems += [Problem("upgrade (prune)", 0, 0, "", f"the prune of the old tree takes away {fact}")
                 for fact in needed_prunes(upgrade, before, after)]
    if problems:
        raise TemplateError(problems)
    return [item.summary() for item in played]
