"""How the Tigera operator reads its CRs by field: what they name, and what it refuses.

The rollout model (renderer/model/facts.py) names the facts a component waits for in general terms
(`pull-secret`, `storageclass:tigera-elasticsearch`); the objects applied say which ones exactly:
- Installation `imagePullSecrets`: each named Secret must exist in tigera-operator, else the
  Installation stays Degraded "Error retrieving pull secrets" (tigera/operator v1.34.5
  pkg/controller/installation/core_controller.go: Reconcile; pkg/controller/utils/utils.go:
  GetNetworkingPullSecrets reads them in common.OperatorNamespace()).
- LogStorage `storageClassName` (default tigera-elasticsearch: pkg/controller/logstorage/initializer/
  initializing_controller.go): the elastic controller waits until that StorageClass exists
  (pkg/controller/logstorage/elastic/elastic_controller.go: "couldn't find storage class").
- Status: what it writes back into each CR (status()).
- IP pools: the Installation is refused, Degraded "Invalid Installation provided", when a pool's
  encapsulation needs BGP and BGP is off (pkg/controller/installation/validation.go:
  validateCustomResource; BGP defaults to Enabled for Calico CNI outside EKS: core_controller.go
  fillDefaults), or an IPv6 pool asks for IPIP.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from renderer.check import crds
from renderer.model import facts

DEFAULT_STORAGE_CLASS = "tigera-elasticsearch"

Key = tuple[str, str, str, str]


def _spec(obj: dict[str, Any] | None) -> dict[str, Any]:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _first(objects: dict[Key, dict[str, Any]], kind: str) -> tuple[Key, dict[str, Any]] | None:
    return next(((key, obj) for key, obj in objects.items() if key[:2] == ("operator.tigera.io", kind)), None)


def pull_secrets(installation: dict[str, Any]) -> list[str]:
    return [str(item.get("name", "")) for item in _spec(installation).get("imagePullSecrets") or []
            if isinstance(item, dict)]


def storage_class(logstorage: dict[str, Any]) -> str:
    return str(_spec(logstorage).get("storageClassName") or DEFAULT_STORAGE_CLASS)


def invalid_installation(installation: dict[str, Any]) -> str:
    """Why validateCustomResource refuses the Installation, or ''."""
    network = _spec(installation).get("calicoNetwork") or {}
    cni = (_spec(installation).get("cni") or {}).get("type", "Calico")
    provider = _spec(installation).get("kubernetesProvider", "")
    bgp = network.get("bgp") or ("Enabled" if cni == "Calico" and provider != "EKS" else "Disabled")
    for pool in network.get("ipPools") or []:
        encapsulation = pool.get("encapsulation", "")
        cidr = str(pool.get("cidr", ""))
        if ":" in cidr and encapsulation in ("IPIP", "IPIPCrossSubnet"):
            return f"IPIP encapsulation is not supported by IPv6 pools, but it is set for {cidr}"
        if cni == "Calico" and bgp == "Disabled":
            if encapsulation in ("IPIP", "IPIPCrossSubnet"):
                return "IPIP encapsulation requires that BGP is enabled"
            if encapsulation == "None":
                return "Unencapsulated IP pools require that BGP is enabled"
    return ""


def reading(objects: dict[Key, dict[str, Any]]) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], frozenset[str]]:
    """(model fact -> the facts the applied objects really name, kinds the operator refuses)."""
    renamed: dict[str, tuple[str, ...]] = {}
    refused: set[str] = set()
    found = _first(objects, "Installation")
    if found is not None:
        renamed["pull-secret"] = tuple(f"secret:tigera-operator/{name}" for name in pull_secrets(found[1]))
        if invalid_installation(found[1]):
            refused.add("Installation")
    found = _first(objects, "LogStorage")
    if found is not None:
        renamed[f"storageclass:{DEFAULT_STORAGE_CLASS}"] = (f"storageclass:{storage_class(found[1])}",)
    return tuple(sorted(renamed.items())), frozenset(refused)


def blocker(objects: dict[Key, dict[str, Any]], fact: str) -> tuple[Key, str] | None:
    """The CR that waits for `fact`, with the operator's message, when a field of it names the fact."""
    if fact.startswith("secret:tigera-operator/"):
        found = _first(objects, "Installation")
        if found is not None:
            return found[0], (f"Error retrieving pull secrets: secrets \"{fact.rpartition('/')[2]}\" not found "
                              "in tigera-operator (spec.imagePullSecrets)")
    if fact.startswith("storageclass:"):
        found = _first(objects, "LogStorage")
        if found is not None:
            name = fact.partition(":")[2]
            return found[0], f"couldn't find storage class {name}, this must be provided (spec.storageClassName)"
    return None


def refusal(objects: dict[Key, dict[str, Any]]) -> tuple[Key, str] | None:
    found = _first(objects, "Installation")
    if found is not None:
        why = invalid_installation(found[1])
        if why:
            return found[0], f"Invalid Installation provided: {why}"
    return None


def status(fields: frozenset[str], states: list[tuple[str, str]]) -> dict[str, Any]:
    """The status the operator writes into a CR whose CRD declares `fields`, from its components' states
    (pkg/controller/status/status.go: before ReadyToMonitor only Degraded is written; then
    UpdateStatusCondition mirrors Available as Ready; `state` is Ready after a successful reconcile)."""
    written: dict[str, Any] = {}
    if "state" in fields and states and all(state == "Available" for state, _ in states):
        written["state"] = "Ready"
    if "conditions" in fields and states:
        conditions = []
        worst = next((item for item in states if item[0] == "Degraded"), None)
        if worst is not None and all(state != "Available" for state, _ in states):
            conditions.append({"type": "Degraded", "status": "True", "reason": "ResourceNotReady",
                               "message": worst[1]})
        else:
            ready = all(state == "Available" for state, _ in states)
            conditions += [
                {"type": "Ready", "status": str(ready), "reason": "AllObjectsAvailable" if ready else "Unknown",
                 "message": "All objects available" if ready else ""},
                {"type": "Progressing", "status": str(not ready), "reason": "ResourceNotReady",
                 "message": "" if ready else "rolling out"},
                {"type": "Degraded", "status": "False", "reason": "Unknown", "message": ""},
            ]
        written["conditions"] = conditions
    return written


@cache
def status_fields(kind: str, tigera_version: str) -> frozenset[str]:
    """The status fields the CRD of an operator kind declares (schemas/crds, derived from the upstream CRDs):
    the shapes the simulated operator may write, whatever the health rules expect."""
    validator = crds._validator(crds.tigera_schema_set(tigera_version), "operator.tigera.io", "v1", kind)
    schema = validator.schema.get("properties", {}).get("status", {}) if validator is not None else {}
    return frozenset(schema.get("properties", {}))


def written_back(installation: dict[str, Any]) -> list[str]:
    """Drift: pool fields the ippool controller writes back into the spec (pkg/controller/ippool/defaults.go)
    that the applied Installation leaves out, so the engine re-applies forever."""
    pools = ((_spec(installation).get("calicoNetwork") or {}).get("ipPools")) or []
    expected = {**facts.POOL_DEFAULTS_V4, "name": facts.DEFAULT_POOL_NAME, "natOutgoing": "Enabled",
                "nodeSelector": "all()"}
    drift = []
    for index, pool in enumerate(pools):
        missing = sorted(name for name in expected if name not in pool)
        if missing:
            drift.append(f"Installation default: the operator writes spec.calicoNetwork.ipPools[{index}]."
                         f"{{{', '.join(missing)}}}, so the engine re-applies forever")
    return drift
