"""A cluster that follows the rollout model: objects, facts that become true over time, operator status.

Time is in seconds. A fact becomes true a fixed delay after everything it needs holds (RUNTIME_RULES
and the operator components of renderer/model/facts.py); applying an object fails the way the API
server would refuse it (unknown kind, missing namespace, missing tier). Facts about objects come from
the objects applied: a namespace, a StorageClass, a Secret, CRDs Established, a tier, the bypass as
Felix evaluates the tier (felix.py). The operator reads its CRs by field (operator.py): the pull
secrets the Installation names, the StorageClass the LogStorage names, the pool settings it
validates. Status is written the way tigera/operator v1.34.5 writes it (pkg/controller/status/
status.go, status.UpdateStatusCondition).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from renderer.model import facts, kinds, series
from renderer.simulate import felix, operator

CRD_ESTABLISH_SECONDS = 5
NODES_JOIN_SECONDS = 180
"""exo compute sks nodepool add until the nodes register (then Calico makes them Ready)."""

Key = tuple[str, str, str, str]
"""(group, kind, namespace, name)"""
Reading = tuple[tuple[tuple[str, tuple[str, ...]], ...], frozenset[str]]
"""operator.reading: (model fact -> the facts the applied objects name, kinds the operator refuses)."""


class ApplyError(Exception):
    """The API server refuses an object (`key`: which one, when known)."""

    def __init__(self, message: str, key: Key | None = None) -> None:
        super().__init__(message)
        self.key = key


def key_of(obj: dict[str, Any]) -> Key:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    metadata = obj.get("metadata") or {}
    return (group, str(obj.get("kind", "")), str(metadata.get("namespace", "")), str(metadata.get("name", "")))


_KIND_NEEDS = kinds.gates()
"""What must exist before the API server accepts an object of a group, where it is not the group's CRDs
(Cluster._custom): the aggregated API (renderer/model/kinds.py)."""

CLUSTER_SCOPED = kinds.cluster_scoped()


_OPERATOR_NAMESPACES = frozenset(fact.removeprefix("namespace:") for row in series.SERIES.values()
                                  for component in row.components
                                  for fact in component.provides if fact.startswith("namespace:"))
"""Namespaces the operator creates and copies the pull secret into (the components' `provides`, every series)."""


def _target(external_secret: dict[str, Any]) -> str:
    """The Secret an ExternalSecret writes: spec.target.name, else its own name (external-secrets
    apis/externalsecrets/v1 externalsecret_types.go: ExternalSecretTarget.Name)."""
    target = (external_secret.get("spec") or {}).get("target") or {}
    return str(target.get("name") or (external_secret.get("metadata") or {}).get("name", ""))


def is_namespaced(group: str, kind: str) -> bool:
    return (group, kind) not in CLUSTER_SCOPED


@cache
def _component_rules(version: str, kinds: frozenset[str], renamed: tuple[tuple[str, tuple[str, ...]], ...],
                     refused: frozenset[str]) -> tuple[tuple[str, tuple[str, ...], int], ...]:
    """The cluster's rules for the series of `version`; `renamed`: model needs replaced by what the applied
    objects name (operator.py); `refused`: kinds the operator refuses (their components never become Available)."""
    names = dict(renamed)

    def needs_of(needs: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(real for need in needs for real in names.get(need, (need,)))

    rules = [(rule.provides, rule.needs, rule.seconds) for rule in facts.RUNTIME_RULES]
    for component in _components(version, kinds):
        if component.kind in refused:
            continue
        for fact in (f"component:{component.name}", *component.provides):
            rules.append((fact, needs_of(component.needs), component.seconds))
    return tuple(rules)


@cache
def _components(tigera_version: str, kinds: frozenset[str]) -> tuple[facts.Component, ...]:
    """series.row(version).components_for(kinds), once per process: the series rows are constants and
    `given` builds new records on every call (it was a third of a fleet cluster's simulation)."""
    return series.row(tigera_version).components_for(kinds)


@cache
def _mirrored(tigera_version: str, kind: str, kinds: frozenset[str]) -> tuple[facts.Component, ...]:
    """series.row(version).mirrored_into(kind, kinds), once per process (as _components)."""
    return series.row(tigera_version).mirrored_into(kind, kinds)


@dataclass(frozen=True)
class Site:
    """What the cluster's network looks like: the SKS API server endpoint and the operator's tier."""

    endpoint_port: int
    endpoint_ip: str
    operator_tier: str
    tigera_version: str = "v3.19.2"


def _calico_stored_rules(policy: dict[str, Any]) -> None:
    """What the Calico API server keeps of each rule: `source` and `destination` are non-pointer structs,
    always written back (`{}` when empty), and a port given as a string of digits comes back a number
    (projectcalico/calico v3.28.2 api/pkg/apis/projectcalico/v3/policy_common.go: Rule;
    api/pkg/lib/numorstring/port.go: PortFromString, Port.MarshalJSON)."""
    spec = policy.get("spec") or {}
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for side in ("source", "destination"):
                entity = rule[side] = rule.get(side) or {}
                for ports in ("ports", "notPorts"):
                    if isinstance(entity.get(ports), list):
                        entity[ports] = [int(port) if isinstance(port, str) and port.isdigit() else port
                                         for port in entity[ports]]


@dataclass
class Cluster:
    site: Site
    now: float = 0.0
    since: dict[str, float] = field(default_factory=dict)
    """Fact -> when it became true."""
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    drift: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    extra_rules: list[tuple[str, tuple[str, ...], int]] = field(default_factory=list)
    """Facts someone outside the cluster brings once their needs hold (the bootstrap's local files)."""
    version: int = 0
    """Bumped whenever what holds may have changed: memo key for everything read from the state."""
    _settled: int = -1
    _kinds: frozenset[str] = frozenset()
    _statuses: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _read: tuple[int, Reading, tuple[Key, str] | None] | None = None
    """(version, operator.reading, operator.refusal) of the objects applied by then (every apply bumps version)."""
    files: dict[Key, str] = field(default_factory=dict)
    """Where each applied or refused object came from in the tree (for --verify's report)."""
    refusals: dict[Key, str] = field(default_factory=dict)
    """Objects the API server refuses now, in the order first refused (removed once applied)."""
    egress: dict[str, str] = field(default_factory=dict)
    """Namespace -> Felix's verdict on its pods reaching the API server endpoint (felix.py)."""

    def __post_init__(self) -> None:
        self._judge_egress()

    @property
    def tigera(self) -> facts.Series:
        """The operator facts of the site's Calico Enterprise series (renderer/model/series.py)."""
        return series.row(self.site.tigera_version)

    def holds(self, fact: str) -> bool:
        return fact in self.since and self.since[fact] <= self.now

    def grant(self, fact: str, delay: float = 0.0) -> None:
        at = self.now + delay
        if fact not in self.since or self.since[fact] > at:
            self.since[fact] = at
            self.version += 1

    # -- objects ------------------------------------------------------------------------------

    def kinds(self) -> frozenset[str]:
        return self._kinds

    def check(self, obj: dict[str, Any], file: str = "") -> None:
        """Raise ApplyError when the API server would refuse `obj` now (and remember the refusal)."""
        key = key_of(obj)
        if file:
            self.files.setdefault(key, file)
        try:
            self._check(obj)
        except ApplyError as exc:
            self.refusals.setdefault(key, str(exc))
            raise

    def _check(self, obj: dict[str, Any]) -> None:
        group, kind, namespace, name = key = key_of(obj)
        need = _KIND_NEEDS.get(group) or (f"crds:{group}" if self._custom(group) else "")
        if need and not self.holds(need):
            raise ApplyError(f"{kind} {name}: no matches for kind {kind!r} in group {group!r} ({need} missing)", key)
        if is_namespaced(group, kind) and namespace and not self.holds(f"namespace:{namespace}"):
            raise ApplyError(f"{kind} {namespace}/{name}: namespaces {namespace!r} not found", key)
        tier = (obj.get("spec") or {}).get("tier") if group == "projectcalico.org" else None
        if tier and not self.holds("tier:operator" if tier == self.site.operator_tier else f"tier:{tier}"):
            raise ApplyError(f"{kind} {name}: tier {tier!r} not found", key)

    @staticmethod
    def _custom(group: str) -> bool:
        """A group served by CRDs that must be applied first (not built in, not an engine's own)."""
        return "." in group and not group.endswith(("k8s.io", "toolkit.fluxcd.io", "argoproj.io"))

    def apply(self, obj: dict[str, Any], file: str = "") -> None:
        self.check(obj, file)
        group, kind, namespace, name = key = key_of(obj)
        self.refusals.pop(key, None)
        live = copy.deepcopy(obj)
        live.pop("status", None)
        if group == "projectcalico.org" and kind in ("GlobalNetworkPolicy", "NetworkPolicy"):
            _calico_stored_rules(live)
        self.objects[key] = live
        self.version += 1
        if group == "operator.tigera.io":
            self._kinds = self._kinds | {kind}
        if kind == "Namespace" and not group:
            self.grant(f"namespace:{name}")
        elif kind == "CustomResourceDefinition":
            self.grant(f"crds:{(live.get('spec') or {}).get('group') or name.split('.', 1)[-1]}",
                       CRD_ESTABLISH_SECONDS)
        elif kind == "StorageClass":
            self.grant(f"storageclass:{name}")
        elif kind == "Secret" and not group:
            self.grant(f"secret:{namespace}/{name}")
        elif kind == "Tier" and group == "projectcalico.org":
            self.grant(f"tier:{name}")
        elif kind == "LicenseKey" and name == "default":
            self.grant("license")
        elif kind == "ExternalSecret" and namespace not in _OPERATOR_NAMESPACES:
            self.grant(f"secret:{namespace}/{_target(live)}", 30)  # ESO's first refresh
        elif kind == "ExternalSecret":
            self.drift.append(f"ExternalSecret {namespace}/{name}: the operator copies the pull secret there "
                              "itself, owned by its CR (pkg/render/common/secret/secrets.go CopyToNamespace, "
                              "pkg/controller/utils/component.go), so ESO can never own the target")
        if kind == "Installation":
            self.drift += operator.written_back(live, self.tigera.pool_defaults)
        if kind in ("GlobalNetworkPolicy", "NetworkPolicy", "Tier") and group == "projectcalico.org":
            self._judge_egress()
        self.log.append(f"{self.now:7.0f}s applied {kind} {namespace + '/' if namespace else ''}{name}")

    def _judge_egress(self) -> None:
        """Grant api-egress:<namespace> where Felix now lets the pods reach the endpoint (felix.py)."""
        policies = [obj for (group, kind, _, _), obj in self.objects.items()
                    if group == "projectcalico.org" and kind in ("GlobalNetworkPolicy", "NetworkPolicy")]
        orders = {key[3]: float(obj["spec"]["order"]) for key, obj in self.objects.items()
                  if key[:2] == ("projectcalico.org", "Tier") and (obj.get("spec") or {}).get("order") is not None}
        for namespace in self.tigera.bypass_namespaces:
            allowed, why = felix.egress(namespace, policies, self.tigera, self.site.endpoint_port,
                                        self.site.endpoint_ip, orders)
            self.egress[namespace] = why
            if allowed:
                self.grant(f"api-egress:{namespace}")


    # -- time -----------------------------------------------------------------------------------

    def _reading(self) -> Reading:
        """operator.reading(self.objects), read again only when the state changed."""
        if self._read is None or self._read[0] != self.version:
            self._read = (self.version, operator.reading(self.objects), operator.refusal(self.objects))
        return self._read[1]

    def _refusal(self) -> tuple[Key, str] | None:
        """operator.refusal(self.objects), as _reading."""
        if self._read is None or self._read[0] != self.version:
            self._reading()
        assert self._read is not None
        return self._read[2]

    def _rules(self) -> list[tuple[str, tuple[str, ...], int]]:
        renamed, refused = self._reading()
        return [*_component_rules(self.site.tigera_version, self._kinds, renamed, refused), *self.extra_rules]

    def settle(self) -> None:
        """Schedule every fact whose needs hold now (a need that holds later re-schedules on the next call)."""
        if self._settled == self.version:
            return
        scheduled = False
        changed = True
        while changed:
            changed = False
            for fact, needs, seconds in self._rules():
                if fact in self.since or not all(self.holds(need) for need in needs):
                    continue
                ready_at = max([self.since[need] for need in needs] or [self.now])
                self.since[fact] = max(ready_at, self.now) + seconds
                changed = scheduled = True
        self.version += scheduled
        self._settled = self.version

    def next_event(self) -> float | None:
        self.settle()
        pending = [at for at in self.since.values() if at > self.now]
        return min(pending) if pending else None

    def advance(self, to: float) -> None:
        """Move the clock to `to`, letting facts fall due in order."""
        self.settle()
        while True:
            upcoming = self.next_event()
            if upcoming is None or upcoming > to:
                break
            self.now = upcoming
            self.version += 1
            self.settle()
        self.now = max(self.now, to)  # no fact falls due in between: what holds is unchanged
        self.settle()

    # -- what the operator reports ------------------------------------------------------------

    def component_status(self, component: facts.Component) -> tuple[str, str]:
        """("Available" | "Progressing" | "Degraded", message) as the TigeraStatus shows it."""
        if self.holds(f"component:{component.name}"):
            return "Available", "All objects available"
        refused = self._refusal()
        if refused is not None and component.kind == refused[0][1]:
            return "Degraded", refused[1]
        missing = [need for need in self.needs(component) if not self.holds(need)]
        if missing:
            return "Degraded", f"{component.waiting(set(missing))}: {', '.join(missing)}"
        return "Progressing", "rolling out"

    def needs(self, component: facts.Component) -> tuple[str, ...]:
        """The component's needs as the applied objects name them (operator.py)."""
        renamed = dict(self._reading()[0])
        return tuple(real for need in component.needs for real in renamed.get(need, (need,)))

    def tigerastatus(self) -> dict[str, tuple[str, str]]:
        return {component.name: self.component_status(component)
                for component in _components(self.site.tigera_version, self._kinds)}

    def status_of(self, kind: str) -> dict[str, Any]:
        """The status an operator.tigera.io object carries now (mirrored TigeraStatus conditions)."""
        key = (kind, self.version)
        if key not in self._statuses:
            self._statuses[key] = self._status_of(kind)
        return self._statuses[key]

    def status_key(self, kind: str) -> tuple[Any, ...]:
        """What status_of(kind) depends on: its fields and its components' states."""
        return (kind, self.site.tigera_version,
                tuple(self.component_status(component)
                      for component in _mirrored(self.site.tigera_version, kind, self._kinds)))

    def _status_of(self, kind: str) -> dict[str, Any]:
        fields = operator.status_fields(kind, self.site.tigera_version)
        return operator.status(fields, [self.component_status(component)
                                        for component in _mirrored(self.site.tigera_version, kind, self._kinds)])

    def external_secret_ready(self, namespace: str) -> bool:
        """ESO's Ready condition: its target Secrets exist, which they never do where an operator controller
        owns them."""
        targets = [_target(obj) for key, obj in self.objects.items()
                   if key[1] == "ExternalSecret" and key[2] == namespace]
        return bool(targets) and all(self.holds(f"secret:{namespace}/{target}") for target in targets)

    def live(self, key: Key) -> dict[str, Any] | None:
        obj = self.objects.get(key)
        if obj is None:
            return None
        if key[0] == "operator.tigera.io":
            obj = {**obj, "status": self.status_of(key[1])}
        return obj

    def converged(self) -> list[str]:
        """What still keeps the cluster from "every tigerastatus Available" (empty when converged)."""
        left = [f"tigerastatus {name}: {state} ({message})" for name, (state, message) in self.tigerastatus().items()
                if state != "Available"]
        if not self.kinds():
            left.append("no operator.tigera.io object was ever applied")
        return left + self.drift
