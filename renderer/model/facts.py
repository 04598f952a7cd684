"""Facts about the Tigera operator, Argo CD and Flux that the rollout depends on, with their sources.

Every entry names the upstream file it was read from (tigera/operator at v1.34.5 = Calico Enterprise
3.19.2 unless noted). Fact names are plain strings:
  nodes                      the nodepool's nodes are Ready (the bootstrap's `nodepool` step)
  crds:<group>               the CRDs of an API group are Established
  namespace:<name>           a namespace exists
  operator                   the tigera-operator Deployment runs (hostNetwork: needs nodes, not a CNI)
  pull-secret                tigera-pull-secret exists in tigera-operator
  api:projectcalico.org/v3   the Tigera API server serves projectcalico.org/v3 (APIServer state Ready)
  license                    LicenseKey `default` exists
  tier:<name>                the Calico tier exists; tier:operator is the one holding the operator's
                             policies (allow-tigera, calico-system from 3.23: OPERATOR_TIER)
  api-egress:<namespace>     pods there can reach the SKS API server's real endpoint (the bypass)
  storageclass:<name>, longhorn, component:<tigerastatus>
"""

from __future__ import annotations

from dataclasses import dataclass

OPERATOR_SOURCE = "tigera/operator@v1.34.5"


@dataclass(frozen=True)
class Component:
    """One TigeraStatus: the CR kind that enables it, what it waits for, what it then provides.

    While a need is missing the operator writes only a Degraded condition with `waiting` as
    message (pkg/controller/status/status.go: updateStatus before ReadyToMonitor)."""

    name: str
    kind: str
    """The CR whose presence turns the component on."""
    needs: tuple[str, ...]
    waiting: str
    provides: tuple[str, ...] = ()
    seconds: int = 60
    """Typical time from the last need to Available (workloads rolling out)."""
    source: str = ""
    mirrored: bool = True
    """Its conditions are copied into the CR's status (status.UpdateStatusCondition, Available -> Ready);
    `tiers` and `ippools` belong to no CR of their own."""


_TIER_WAIT = "Waiting for allow-tigera tier to be created, see the 'tiers' TigeraStatus for more information"
_ES = "component:log-storage-elastic"

COMPONENTS: tuple[Component, ...] = (
    Component("calico", "Installation", ("operator", "nodes", "pull-secret"), "Error retrieving pull secrets",
              ("calico", "namespace:calico-system"), 120,
              "pkg/controller/installation/core_controller.go: Reconcile (no license, no tier)"),
    Component("ippools", "Installation", ("calico",), "Waiting for Installation defaulting to occur", (), 10,
              "pkg/controller/ippool/pool_controller.go: Reconcile", mirrored=False),
    Component("apiserver", "APIServer", ("calico",), "Waiting for Installation to be ready",
              ("api:projectcalico.org/v3", "namespace:tigera-system"), 60,
              "pkg/controller/apiserver/apiserver_controller.go: Reconcile (waits for Installation status.variant)"),
    Component("tiers", "Installation", ("api:projectcalico.org/v3", "license"), "License not found",
              ("tier:operator",), 30,
              "pkg/controller/tiers/tiers_controller.go: Reconcile (does not watch LicenseKey: next try after "
              "utils.StandardRetry = 30 s)", mirrored=False),
    Component("monitor", "Monitor", ("calico", "crds:monitoring.coreos.com"),
              "Waiting for Prometheus resources to be ready",
              ("namespace:tigera-prometheus", "pull-secret:tigera-prometheus"), 90,
              "pkg/controller/monitor/monitor_controller.go: Reconcile (no license; tier optional); "
              "pkg/render/monitor/monitor.go copies the pull secret, owned by Monitor"),
    Component("log-storage", "LogStorage", ("calico",), "Installation not found",
              ("namespace:tigera-elasticsearch", "namespace:tigera-kibana"), 10,
              "pkg/controller/logstorage/initializer/initializing_controller.go: Reconcile"),
    Component("log-storage-secrets", "LogStorage", ("component:log-storage",), "Waiting for LogStorage to be ready",
              (), 10, "pkg/controller/logstorage/secrets/secret_controller.go"),
    Component("log-storage-elastic", "LogStorage",
              ("component:log-storage", "tier:operator", "storageclass:tigera-elasticsearch", "longhorn",
               "api-egress:tigera-eck-operator"),
              _TIER_WAIT, ("namespace:tigera-eck-operator",), 300,
              "pkg/controller/logstorage/elastic/elastic_controller.go (tier required, storage class required); "
              "the ECK operator's allow-tigera.elastic-operator-access opens 443/6443/12388 only "
              "(pkg/render/logstorage.go: eckOperatorAllowTigeraPolicy)"),
    Component("log-storage-access", "LogStorage", ("tier:operator", "api:projectcalico.org/v3", _ES), _TIER_WAIT,
              (), 60, "pkg/controller/logstorage/linseed/linseed_controller.go (DPI API, tier, Elasticsearch)"),
    Component("log-storage-esmetrics", "LogStorage", ("tier:operator", _ES), _TIER_WAIT, (), 60,
              "pkg/controller/logstorage/esmetrics/esmetrics_controller.go"),
    Component("log-storage-dashboards", "LogStorage", ("tier:operator", _ES),
              "Waiting for allow-tigera tier to be created", (), 60,
              "pkg/controller/logstorage/dashboards/dashboards_controller.go"),
    Component("log-storage-kubecontrollers", "LogStorage", ("tier:operator", _ES, "api-egress:calico-system"),
              _TIER_WAIT, (), 60,
              "pkg/controller/logstorage/kubecontrollers/es_kube_controllers.go; its policy "
              "allow-tigera.es-kube-controller-access opens 443/6443/12388 only (pkg/render/kubecontrollers)"),
    Component("log-collector", "LogCollector",
              ("api:projectcalico.org/v3", "tier:operator", "license", "component:monitor"), "License not found",
              ("namespace:tigera-fluentd",), 60,
              "pkg/controller/logcollector/logcollector_controller.go (license; Prometheus client secret "
              "from the monitor controller)"),
    Component("compliance", "Compliance",
              ("api:projectcalico.org/v3", "tier:operator", "license", "component:log-storage-access"),
              "License not found", ("namespace:tigera-compliance",), 60,
              "pkg/controller/compliance/compliance_controller.go (license; Linseed certificate)"),
    Component("intrusion-detection", "IntrusionDetection",
              ("api:projectcalico.org/v3", "tier:operator", "license", _ES, "component:log-storage-access"),
              "License not found", ("namespace:tigera-intrusion-detection",), 60,
              "pkg/controller/intrusiondetection/intrusiondetection_controller.go (Elasticsearch, tier, license)"),
    Component("manager", "Manager",
              ("api:projectcalico.org/v3", "tier:operator", "license", "component:monitor", _ES,
               "namespace:tigera-prometheus"),
              "License not found", ("namespace:tigera-manager",), 90,
              "pkg/controller/manager/manager_controller.go (license; requires Monitor tigera-secure and the "
              "tigera-prometheus namespace; Elasticsearch secrets)"),
    Component("policy-recommendation", "PolicyRecommendation",
              ("api:projectcalico.org/v3", "tier:operator", "license", "component:log-storage-access"),
              "License not found", ("namespace:tigera-policy-recommendation",), 60,
              "pkg/controller/policyrecommendation/policyrecommendation_controller.go (license; Linseed certificate)"),
)
"""Every TigeraStatus a single-tenant Calico Enterprise 3.19 install reports (status.New names)."""

OPERATOR_POLICY_ORDER = 1
"""Order of the operator's allow-tigera policies (pkg/render/common/networkpolicy: HighPrecedenceOrder);
a bypass must sort before them inside the tier."""

API_PORTS = (443, 6443, 12388)
"""Ports KubeAPIServerEntityRule opens (pkg/render/common/networkpolicy/networkpolicy.go)."""

BYPASS_NAMESPACES = ("calico-system", "tigera-eck-operator", "tigera-packetcapture", "tigera-prometheus")
"""Namespaces whose allow-tigera policies allow the API server on API_PORTS only and end without a
Pass rule, so an SKS endpoint on another port is denied there (pkg/render: kubecontrollers,
logstorage.go eckOperatorAllowTigeraPolicy, packet_capture_api.go, monitor/monitor.go)."""

OPERATOR_TIER = {(3, 19): "allow-tigera", (3, 23): "calico-system"}
"""Tier that holds the operator's policies, by Calico Enterprise series (renamed in 3.23)."""


def operator_tier(series: tuple[int, int]) -> str:
    """The operator's tier in `series`: that of the newest series here not newer than it."""
    known = [known for known in OPERATOR_TIER if known <= series]
    return OPERATOR_TIER[max(known)] if known else OPERATOR_TIER[min(OPERATOR_TIER)]

POOL_DEFAULTS_V4 = {"allowedUses": ["Workload", "Tunnel"], "blockSize": 26, "disableBGPExport": False}
"""What pkg/controller/ippool/defaults.go (fillDefaults) writes into every IPv4 pool left empty, and the
CRD default of disableBGPExport; rendering them keeps Argo CD and Flux from fighting the operator
(projectcalico/calico#7228). The single pool is named default-ipv4-ippool there too."""

POOL_DEFAULTS_V4_FROM_3_23 = {"disableNewAllocations": False}
"""tigera/operator v1.42.4 pkg/controller/ippool/defaults.go also defaults disableNewAllocations."""

DEFAULT_POOL_NAME = "default-ipv4-ippool"


@dataclass(frozen=True)
class Health:
    """When Argo CD and Flux may call an operator.tigera.io object done, read from its status type."""

    kind: str
    conditions: bool
    """Status mirrors its TigeraStatus as conditions (status.UpdateStatusCondition: Available -> Ready)."""
    state: bool
    """Status has `state`, set to Ready only after a successful reconcile."""


HEALTH: dict[str, Health] = {
    # api/v1/*_types.go and the CRDs' status schemas in ../shared/crds/tigera-ee-v3.19.2/
    "Installation": Health("Installation", conditions=True, state=False),
    "APIServer": Health("APIServer", conditions=True, state=True),
    "IntrusionDetection": Health("IntrusionDetection", conditions=True, state=True),
    "LogCollector": Health("LogCollector", conditions=True, state=True),
    "LogStorage": Health("LogStorage", conditions=True, state=True),
    "Manager": Health("Manager", conditions=True, state=True),
    "Monitor": Health("Monitor", conditions=True, state=True),
    "Compliance": Health("Compliance", conditions=True, state=True),
    "PolicyRecommendation": Health("PolicyRecommendation", conditions=False, state=True),
}


def components_for(kinds: set[str] | frozenset[str] | tuple[str, ...]) -> tuple[Component, ...]:
    """The TigeraStatus components a set of rendered operator kinds turns on."""
    return tuple(component for component in COMPONENTS if component.kind in kinds)


def mirrored_into(kind: str) -> tuple[Component, ...]:
    """The components whose conditions an object of `kind` reports (what its health reads)."""
    return tuple(component for component in COMPONENTS if component.kind == kind and component.mirrored)


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


def missing_kinds(enabled: set[str]) -> list[tuple[str, str, str]]:
    """(kind, kind it needs, source) for components of enabled kinds that wait on a disabled kind's component."""
    by_name = {component.name: component for component in COMPONENTS}
    found: dict[tuple[str, str], str] = {}
    for component in components_for(enabled):
        for need in component.needs:
            other = by_name.get(need.removeprefix("component:")) if need.startswith("component:") else None
            if other is not None and other.kind not in enabled:
                source = component.source.split(" (")[0]
                found.setdefault((component.kind, other.kind), f"tigera/operator v1.34.5 {source}")
    return [(kind, needed, source) for (kind, needed), source in sorted(found.items())]


def api_egress_needed(enabled: set[str]) -> dict[str, str]:
    """Namespace -> the component that needs the bypass there, for the enabled kinds."""
    needed: dict[str, str] = {}
    for component in components_for(enabled):
        for need in component.needs:
            if need.startswith("api-egress:"):
                needed.setdefault(need.removeprefix("api-egress:"), component.name)
    return needed


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


def why(fact: str) -> str:
    """One line on why a stage waits for `fact` (for --plan and the README)."""
    if fact in WHY:
        return WHY[fact]
    if fact.startswith("component:"):
        name = fact.removeprefix("component:")
        component = next((item for item in COMPONENTS if item.name == name), None)
        needs = ", ".join(component.needs) if component else "?"
        return f"TigeraStatus {name} Available (its CR's Ready condition); it needs {needs}"
    return fact
