"""Facts about the Tigera operator, Argo CD and Flux that the rollout depends on, with their sources.

What the operator does differs by Calico Enterprise series: those facts are one `Series` row each, in
renderer/model/series.py, read in tigera/operator at that series' tag. This module holds their shapes
and what no series changes. Fact names are plain strings:
  nodes                      the nodepool's nodes are Ready (the bootstrap's `nodepool` step)
  crds:<group>               the CRDs of an API group are Established
  namespace:<name>           a namespace exists
  operator                   the tigera-operator Deployment runs (hostNetwork: needs nodes, not a CNI)
  pull-secret                tigera-pull-secret exists in tigera-operator
  api:projectcalico.org/v3   the Tigera API server serves projectcalico.org/v3 (APIServer state Ready)
  license                    LicenseKey `default` exists
  tier:<name>                the Calico tier exists; tier:operator is the one holding the operator's
                             policies (Series.tier: allow-tigera, calico-system from 3.23)
  api-egress:<namespace>     pods there can reach the SKS API server's real endpoint (the bypass)
  storageclass:<name>, longhorn, component:<tigerastatus>
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from renderer.model.kinds import OPERATOR_KINDS


@dataclass(frozen=True)
class Wait:
    """One thing a controller checks before it renders, and the Degraded message it writes while missing."""

    fact: str
    message: str
    when: str = ""
    """A kind whose presence makes this a wait at all (Manager waits for Compliance only when one exists)."""


@dataclass(frozen=True)
class Component:
    """One TigeraStatus: the CR kind that enables it, what it waits for, what it then provides.

    While a need is missing the operator writes only a Degraded condition with the message of the first
    missing wait, in the order the controller checks them (pkg/controller/status/status.go: updateStatus
    before ReadyToMonitor)."""

    name: str
    kind: str
    """The CR whose presence turns the component on."""
    waits: tuple[Wait, ...]
    provides: tuple[str, ...] = ()
    seconds: int = 60
    """Typical time from the last need to Available (workloads rolling out)."""
    source: str = ""
    mirrored: bool = True
    """Its conditions are copied into the CR's status (status.UpdateStatusCondition, Available -> Ready);
    `tiers` and `ippools` belong to no CR of their own."""

    @property
    def needs(self) -> tuple[str, ...]:
        """What it needs whatever else is rendered (Series.components_for adds the conditional waits)."""
        return tuple(wait.fact for wait in self.waits if not wait.when)

    def waiting(self, missing: set[str] | frozenset[str]) -> str:
        """The Degraded message while `missing` facts are missing: that of the first one it checks."""
        return next((wait.message for wait in self.waits if wait.fact in missing), "")

    def given(self, kinds: set[str] | frozenset[str]) -> Component:
        """This component where `kinds` are rendered: conditional waits kept only when their kind is."""
        waits = tuple(replace(wait, when="") for wait in self.waits if not wait.when or wait.when in kinds)
        return replace(self, waits=waits)


@dataclass(frozen=True)
class Health:
    """When Argo CD and Flux may call an operator.tigera.io object done, read from its status type."""

    kind: str
    conditions: bool
    """Status mirrors its TigeraStatus as conditions (status.UpdateStatusCondition: Available -> Ready)."""
    state: bool
    """Status has `state`, set to Ready only after a successful reconcile."""


HEALTH: dict[str, Health] = {row.kind: Health(row.kind, row.conditions, row.state) for row in OPERATOR_KINDS}
"""Read from each kind's status type (renderer/model/kinds.py: OperatorKind, with its source)."""


OPERATOR_POLICY_ORDER = 1
"""Order of the operator's policies in its tier (pkg/render/common/networkpolicy: HighPrecedenceOrder = 1.0
at every tag from v1.34.5 to v1.42.4); a bypass must sort before them inside the tier."""

DEFAULT_POOL_NAME = "default-ipv4-ippool"
"""The single IPv4 pool's name (pkg/controller/ippool/defaults.go: defaultPoolName, every series)."""


@dataclass(frozen=True)
class Series:
    """What the Tigera operator of one Calico Enterprise series does, read in its source at `operator`."""

    series: str
    """MAJOR.MINOR, e.g. "3.19"."""
    releases: tuple[str, ...]
    """The releases this row was checked against (PROVENANCE.md: operator tag per release)."""
    operator: str
    """The tigera/operator tag the facts were read at (source paths below are in that tree)."""
    crds: str
    """Folder of ../shared/crds the series' schemas are derived from (devtools/crdschemas.py)."""
    tier: str
    """Tier holding the operator's policies (pkg/render/common/networkpolicy/networkpolicy.go)."""
    components: tuple[Component, ...]
    """Every TigeraStatus a single-tenant install of the kinds we render reports (status.New names)."""
    bypass_namespaces: tuple[str, ...]
    """Namespaces whose operator policies allow the API server on `api_ports` only and end without a Pass
    rule, so an SKS endpoint on another port is denied there."""
    api_ports: tuple[int, ...]
    pool_defaults: dict[str, Any]
    """What pkg/controller/ippool/defaults.go (fillDefaults) writes into an IPv4 pool left empty, and the
    CRD default of disableBGPExport: rendering them keeps Argo CD and Flux from fighting the operator
    (projectcalico/calico#7228)."""
    health: dict[str, Health]
    changes: str = ""
    """What differs from the previous series, with the files it was read in."""

    @property
    def key(self) -> tuple[int, int]:
        major, minor = self.series.split(".")
        return int(major), int(minor)

    def components_for(self, kinds: Iterable[str]) -> tuple[Component, ...]:
        """The TigeraStatus components a set of rendered operator kinds turns on, with their waits there."""
        rendered = frozenset(kinds)
        return tuple(component.given(rendered) for component in self.components if component.kind in rendered)

    def mirrored_into(self, kind: str, kinds: Iterable[str] = ()) -> tuple[Component, ...]:
        """The components whose conditions an object of `kind` reports (what its health reads)."""
        return tuple(component for component in self.components_for({kind, *kinds})
                     if component.kind == kind and component.mirrored)

    def missing_kinds(self, enabled: set[str]) -> list[tuple[str, str, str]]:
        """(kind, kind it needs, source) for components of enabled kinds that wait on a disabled kind's
        component."""
        by_name = {component.name: component for component in self.components}
        found: dict[tuple[str, str], str] = {}
        for component in self.components_for(enabled):
            for need in component.needs:
                other = by_name.get(need.removeprefix("component:")) if need.startswith("component:") else None
                if other is not None and other.kind not in enabled:
                    source = component.source.split(" (")[0]
                    found.setdefault((component.kind, other.kind), f"tigera/operator {self.operator} {source}")
        return [(kind, needed, source) for (kind, needed), source in sorted(found.items())]

    def api_egress_needed(self, enabled: set[str]) -> dict[str, str]:
        """Namespace -> the component that needs the bypass there, for the enabled kinds."""
        needed: dict[str, str] = {}
        for component in self.components_for(enabled):
            for need in component.needs:
                if need.startswith("api-egress:"):
                    needed.setdefault(need.removeprefix("api-egress:"), component.name)
        return needed


@dataclass(frozen=True)
class Rule:
    """A fact the cluster makes true by itself once its needs hold (workloads starting)."""

    provides: str
    needs: tuple[str, ...]
    seconds: int
    source: str


RUNTIME_RULES: tuple[Rule, ...] = (
    Rule("operator", ("crds:operator.tigera.io", "nodes"), 30,
         "the tigera-operator Deployment uses hostNetwork (tigera-operator.yaml): it needs nodes, not a CNI"),
    Rule("longhorn", ("crds:longhorn.io", "nodes", "calico"), 120,
         "Longhorn's manager and CSI pods use the pod network (longhorn/longhorn chart templates)"),
)


WHY = {
    "nodes": "pods, the operator included, need nodes (they join after the operator's CRDs, as in the seed)",
    "crds:operator.tigera.io": "Installation, APIServer and the other custom resources are operator.tigera.io kinds",
    "crds:monitoring.coreos.com": "Monitor waits for the Prometheus operator CRDs (pkg/controller/monitor)",
    "crds:external-secrets.io": "ExternalSecret is an External Secrets Operator kind",
    "namespace:tigera-operator": "the pull secret lives in the operator's namespace, created by its manifest",
    "api:projectcalico.org/v3": "LicenseKey and GlobalNetworkPolicy are projectcalico.org/v3, served by the Tigera API "
                                "server (APIServer Ready)",
    "tier:operator": "a policy in a missing tier is refused; the tiers controller creates it up to 30 s after the "
                     "license (pkg/controller/tiers/tiers_controller.go)",
    "license": "the enterprise controllers stay Degraded 'License not found' without it (utils.FetchLicenseKey)",
    "pull-secret": "the operator pulls Calico Enterprise images with tigera-pull-secret",
    "calico": "the engine's pods need the pod network (tigerastatus calico Available)",
}


def why(fact: str, row: Series | None = None) -> str:
    """One line on why a stage waits for `fact` (for --plan and the README)."""
    tiers = next((item for item in row.components if item.name == "tiers"), None) if row else None
    if fact == "tier:operator" and row is not None and tiers is not None and "license" not in tiers.needs:
        return (f"a policy in a missing tier is refused; the tiers controller creates {row.tier} once the Tigera "
                f"API server serves projectcalico.org/v3 (tigera/operator {row.operator} "
                "pkg/controller/tiers/tiers_controller.go)")
    if fact in WHY:
        return WHY[fact]
    if fact.startswith("component:"):
        name = fact.removeprefix("component:")
        component = next((item for item in row.components if item.name == name), None) if row else None
        needs = ", ".join(component.needs) if component else "?"
        return f"TigeraStatus {name} Available (its CR's Ready condition); it needs {needs}"
    return fact
