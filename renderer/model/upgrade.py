"""Upgrades: when `tigera.version` changes, the steps from the committed tree to the new one, in cluster order.

The committed tree is out/<cluster>/ (renderer/load/committed.py), what `render --check` compares with.
The order is the one the cluster lives through: the operator's manifests and CRDs first (the new
operator then reconciles every custom resource), custom resource changes, the tier change, then what
the engine creates before what it prunes. A jump Tigera does not support is refused with its reason.

Upgrade paths (docs.tigera.io calico-enterprise/latest, getting-started/upgrading/upgrading-enterprise/
kubernetes-upgrade-tsee/operator, "Upgrades paths"): "a maximum of two releases from your existing
version ... upgrading from 3.16 to 3.19 (three releases) is not supported". The operator itself has no
jump check (tigera/operator v1.42.4 pkg/controller/installation/version.go checks only
Installation.spec.minimumOperatorVersion; pkg/controller/migration converts manifest installs), so the
documented rule is the one applied. No downgrade is documented: a lower series is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from renderer import versions
from renderer.errors import Problem, ValuesError
from renderer.load import LocatedValues
from renderer.load.committed import Committed
from renderer.model import Model, series

Objects = dict[str, tuple[dict[str, Any], ...]]

MAX_SERIES_JUMP = 2
UPGRADE_DOCS = ("docs.tigera.io/calico-enterprise/latest/getting-started/upgrading/upgrading-enterprise/"
                "kubernetes-upgrade-tsee/operator")

TIER_MOVE = ("the new operator creates tier {new} (tiers controller), then each component re-renders its "
             "policies there and deletes its {old}.* ones (tigera/operator v1.42.4 pkg/controller/tiers/"
             "tiers_controller.go, pkg/render/tiers/tiers.go, pkg/render/common/networkpolicy/networkpolicy.go: "
             "DeprecatedAllowTigeraNetworkPolicyObject)")
TIER_DELETE = ("the operator deletes tier {old} once it is empty: it tries on every reconcile and the Calico API "
               "server refuses while a policy is left in it (tiers_controller.go: 'Try to delete allow-tigera "
               "deprecated tier')")
TIER_ORDER = ("both tiers have order 100, and tiers of equal order apply in name order (the Tier CRD: "
              "crd.projectcalico.org tier.yaml), so {old} is evaluated before {new}: the old bypass keeps "
              "allowing the endpoint until it is pruned")
PRUNE_AFTER = ("pruned only after the new policy is applied: Argo CD runs the prunes of app {app} after every "
               "apply succeeded (PruneLast=true; gitops-engine pkg/sync/sync_context.go, otherwise a wave prunes "
               "first), Flux garbage-collects after a successful apply; a bootstrap rerun never prunes (the engine "
               "does after the handover)")


@dataclass(frozen=True)
class Step:
    what: str
    detail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Upgrade:
    old: str
    new: str
    steps: tuple[Step, ...] = field(default_factory=tuple)
    old_tier: str = ""
    new_tier: str = ""

    def headline(self) -> str:
        tier = f"; tier {self.old_tier} -> {self.new_tier}" if self.old_tier != self.new_tier else ""
        return f"Calico Enterprise {self.old} -> {self.new}{tier}"


def refusal(old: str, new: str) -> str:
    """Why Tigera does not support going from `old` to `new`, or '' when it does."""
    (old_major, old_minor), (new_major, new_minor) = versions.series(old), versions.series(new)
    if (new_major, new_minor) < (old_major, old_minor):
        return (f"{old} -> {new} is a downgrade of the series; Calico Enterprise documents upgrades only "
                f"({UPGRADE_DOCS})")
    jump = (new_major - old_major) * 100 + new_minor - old_minor
    if jump > MAX_SERIES_JUMP:
        middle = f"v{old_major}.{old_minor + MAX_SERIES_JUMP}"
        return (f"{old} -> {new} skips {jump} releases; Tigera supports at most {MAX_SERIES_JUMP} at a time "
                f"({UPGRADE_DOCS}): upgrade to the latest {middle} patch first, merge, let it converge, then on")
    return ""


def _tier(version: str) -> str:
    """The operator's tier in a release (renderer/model/series.py); the oldest row's for an older release."""
    try:
        return series.row(version).tier
    except series.UnsupportedSeries:
        return next(iter(series.SERIES.values())).tier


def _statuses(version: str, kinds: set[str]) -> set[str] | None:
    """The TigeraStatus names the enabled kinds turn on in a release (its series row), None without a row."""
    try:
        return {component.name for component in series.row(version).components_for(kinds)}
    except series.UnsupportedSeries:
        return None


def _index(objects: Objects) -> dict[tuple[str, str, str], tuple[str, dict[str, Any]]]:
    found = {}
    for path, documents in objects.items():
        for obj in documents:
            meta = obj.get("metadata") or {}
            found[(str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))] = (path, obj)
    return found


def _stage(path: str) -> str:
    return path.split("/")[0]


def _label(key: tuple[str, str, str]) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


def fields(old: Any, new: Any, path: str = "") -> list[str]:
    """The leaf paths that differ between two objects: `+path` added, `-path` removed, `~path` changed."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [found for key in sorted(set(old) | set(new), key=str)
                for found in (fields(old[key], new[key], f"{path}.{key}".lstrip(".")) if key in old and key in new
                              else [f"{'+' if key in new else '-'}{path}.{key}".replace("+.", "+").replace("-.", "-")])]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [found for index, (a, b) in enumerate(zip(old, new, strict=True))
                for found in fields(a, b, f"{path}[{index}]")]
    return [] if old == new else [f"~{path}"]


def plan(values: LocatedValues, committed: Committed, model: Model, new: Objects) -> Upgrade | None:
    """The upgrade from the committed tree, None when the release did not change (or nothing is committed)."""
    old, target = committed.tigera_version, model.values.tigera.version
    if not committed.exists or not old or old == target:
        return None
    why = refusal(old, target)
    if why:
        file, line, column = values.origin(("tigera", "version"))
        raise ValuesError([Problem(file, line, column, "tigera.version", f"upgrade refused: {why}",
                                   hint=f"out/{model.cluster}/ (what --check compares with) applies {old}")])
    old_tier = _tier(old)
    new_tier = series.row(target).tier
    before, after = _index(committed.objects), _index(new)
    steps = [Step(f"operator manifests and CRDs {old} -> {target} (03-tigera-operator, 04-tigera-prometheus-operator, "
                  "server-side apply): the operator Deployment restarts on the new release and reconciles every "
                  "custom resource as that release renders it")]
    changed_crs = [f"{_stage(after[key][0])}: {_label(key)}: {', '.join(fields(before[key][1], after[key][1])[:6])}"
                   for key in sorted(after)
                   if key in before and after[key][0].split("/")[0] == before[key][0].split("/")[0]
                   and str(after[key][1].get("apiVersion", "")).startswith("operator.tigera.io/")
                   and after[key][1] != before[key][1]]
    kinds = {key[0] for key in after if str(after[key][1].get("apiVersion", "")).startswith("operator.tigera.io/")}
    was, now = _statuses(old, kinds), _statuses(target, kinds)
    if was is not None and now is not None:
        changed_crs += [f"TigeraStatus new in {target}: {', '.join(sorted(now - was))}"] if now - was else []
        changed_crs += [f"TigeraStatus gone in {target}: {', '.join(sorted(was - now))}"] if was - now else []
    steps.append(Step("custom resources: the new operator reconciles them (Installation first: calico, then "
                      "apiserver and the rest as their TigeraStatus needs hold)", tuple(changed_crs)))
    policies_new = [key for key in sorted(after) if key[0] == "GlobalNetworkPolicy" and key not in before]
    policies_old = [key for key in sorted(before) if key[0] == "GlobalNetworkPolicy" and key not in after]
    if old_tier != new_tier:
        steps.append(Step(f"tier {old_tier} -> {new_tier}: " + TIER_MOVE.format(old=old_tier, new=new_tier),
                          (TIER_ORDER.format(old=old_tier, new=new_tier),)))
    app = f"{model.cluster}-08-bypass-policies"
    for key in policies_new:
        steps.append(Step(f"{_stage(after[key][0])}: create {_label(key)} (refused until tier "
                          f"{(after[key][1].get('spec') or {}).get('tier')} exists; the engine retries)"))
    for key in policies_old:
        steps.append(Step(f"{_stage(before[key][0])}: prune {_label(key)}", (PRUNE_AFTER.format(app=app),)))
    if old_tier != new_tier:
        steps.append(Step(TIER_DELETE.format(old=old_tier)))
    created = [f"{_stage(after[key][0])}: {_label(key)}" for key in sorted(after)
               if key not in before and key not in policies_new and key[0] not in ("Kustomization", "Application")]
    pruned = [f"{_stage(before[key][0])}: {_label(key)}" for key in sorted(before)
              if key not in after and key not in policies_old and key[0] not in ("Kustomization", "Application")]
    if created:
        steps.append(Step("created", tuple(created)))
    if pruned:
        steps.append(Step("then pruned (after what the new release needs is created)", tuple(pruned)))
    return Upgrade(old, target, tuple(steps), old_tier, new_tier)


def describe(upgrade: Upgrade, cluster: str, simulated: list[str] | None = None) -> str:
    """The upgrade as plain text, the first section of `render --plan` (and of the PR markdown's plan)."""
    lines = [f"Upgrade of {cluster}: {upgrade.old} (out/{cluster}/, committed) -> {upgrade.new} (these values)",
             f"  supported: at most {MAX_SERIES_JUMP} releases at a time ({UPGRADE_DOCS})",
             "  in the order it happens on the cluster:"]
    for number, step in enumerate(upgrade.steps, start=1):
        lines.append(f"  {number}. {step.what}")
        lines += [f"       {detail}" for detail in step.detail]
    if simulated:
        lines += ["  simulated from a cluster converged on out/ (renderer/simulate/upgrade.py):",
                  *(f"    {line}" for line in simulated)]
    return "\n".join(lines) + "\n\n"
