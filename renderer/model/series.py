"""One row of operator facts per Calico Enterprise series, each read in tigera/operator at its tag.

A series is supported when it has a row here and a schema set (schemas/crds/tigera-v<series>, derived
from the row's CRD folder by `make schemas`); nothing else names a series. Each row after the first
states what changed from the one before it (`git diff <previous tag> <tag> -- pkg/controller pkg/render`),
so the table reads as the history a cluster goes through when it upgrades. Source paths are in the
row's operator tree.
"""

from __future__ import annotations

from dataclasses import replace

from renderer import versions
from renderer.model.facts import HEALTH, Component, Series, Wait


class UnsupportedSeries(ValueError):
    """A Calico Enterprise version with no row (validate/ turns it into a located problem)."""


def _tier_wait(tier: str, suffix: bool = True) -> Wait:
    more = ", see the 'tiers' TigeraStatus for more information" if suffix else ""
    return Wait("tier:operator", f"Waiting for {tier} tier to be created{more}")


API = Wait("api:projectcalico.org/v3", "Waiting for Tigera API server to be ready")
LICENSE = Wait("license", "License not found")
ES = "component:log-storage-elastic"
ES_UP = Wait(ES, "Waiting for Elasticsearch cluster to be operational")
LINSEED_CERT = Wait("component:log-storage-access", "Linseed certificate is not available yet, waiting until it "
                                                    "becomes available")
CRASH = "crash looping: dial tcp 10.96.0.1:443: i/o timeout (its policy allows the API server on 443/6443/12388)"


def _components(tier: str) -> tuple[Component, ...]:
    """The components at v1.34.5 (3.19.2), every wait in the order its controller checks it."""
    tier_wait = _tier_wait(tier)
    return (
        Component("calico", "Installation",
                  (Wait("operator", "no TigeraStatus until the operator runs"),
                   Wait("pull-secret", "Error retrieving pull secrets"),
                   Wait("nodes", "DaemonSet \"calico-system/calico-node\" is not yet scheduled on any nodes")),
                  ("calico", "namespace:calico-system"), 120,
                  "pkg/controller/installation/core_controller.go: Reconcile (no license, no tier)"),
        Component("ippools", "Installation", (Wait("calico", "Waiting for Installation defaulting to occur"),), (), 10,
                  "pkg/controller/ippool/pool_controller.go: Reconcile", mirrored=False),
        Component("apiserver", "APIServer", (Wait("calico", "Waiting for Installation to be ready"),),
                  ("api:projectcalico.org/v3", "namespace:tigera-system"), 60,
                  "pkg/controller/apiserver/apiserver_controller.go: Reconcile (waits for Installation "
                  "status.variant)"),
        Component("tiers", "Installation", (API, LICENSE), ("tier:operator",), 30,
                  "pkg/controller/tiers/tiers_controller.go: Reconcile (does not watch LicenseKey: next try after "
                  "utils.StandardRetry = 30 s)", mirrored=False),
        Component("monitor", "Monitor",
                  (Wait("calico", "Installation not found"),
                   Wait("crds:monitoring.coreos.com", "Waiting for Prometheus resources to be ready"),
                   Wait("api:projectcalico.org/v3", "Waiting for Tier watch to be established")),
                  ("namespace:tigera-prometheus", "pull-secret:tigera-prometheus"), 90,
                  "pkg/controller/monitor/monitor_controller.go: Reconcile (no license; the Tier watch needs the "
                  "Tigera API server; the tier itself optional); pkg/render/monitor/monitor.go copies the pull "
                  "secret, owned by Monitor"),
        Component("log-storage", "LogStorage", (Wait("calico", "Installation not found"),),
                  ("namespace:tigera-elasticsearch", "namespace:tigera-kibana"), 10,
                  "pkg/controller/logstorage/initializer/initializing_controller.go: Reconcile"),
        Component("log-storage-secrets", "LogStorage",
                  (Wait("component:log-storage", "Waiting for LogStorage to be ready"),), (), 10,
                  "pkg/controller/logstorage/secrets/secret_controller.go"),
        Component("log-storage-elastic", "LogStorage",
                  (Wait("component:log-storage", "Waiting for LogStorage defaulting to occur"), tier_wait,
                   Wait("storageclass:tigera-elasticsearch", "Failed to get storage class"),
                   Wait("longhorn", "Waiting for Elasticsearch cluster to be operational"),
                   Wait("api-egress:tigera-eck-operator", f"Pod tigera-eck-operator/elastic-operator-0 {CRASH}")),
                  ("namespace:tigera-eck-operator",), 300,
                  "pkg/controller/logstorage/elastic/elastic_controller.go (tier required, storage class required); "
                  "the ECK operator's policy elastic-operator-access opens 443/6443/12388 only "
                  "(pkg/render/logstorage.go: eckOperatorAllowTigeraPolicy)"),
        Component("log-storage-access", "LogStorage",
                  (Wait("api:projectcalico.org/v3", "Waiting for DeepPacketInspection API to be ready"), tier_wait,
                   ES_UP), (), 60,
                  "pkg/controller/logstorage/linseed/linseed_controller.go (DPI API, tier, Elasticsearch)"),
        Component("log-storage-esmetrics", "LogStorage",
                  (tier_wait, Wait(ES, "Waiting for elasticsearch metrics secrets to become available")), (), 60,
                  "pkg/controller/logstorage/esmetrics/esmetrics_controller.go"),
        Component("log-storage-dashboards", "LogStorage", (_tier_wait(tier, suffix=False), ES_UP), (), 60,
                  "pkg/controller/logstorage/dashboards/dashboards_controller.go"),
        Component("log-storage-kubecontrollers", "LogStorage",
                  (tier_wait, ES_UP, Wait("api-egress:calico-system", f"Pod calico-system/es-calico-kube-controllers "
                                                                       f"{CRASH}")), (), 60,
                  "pkg/controller/logstorage/kubecontrollers/es_kube_controllers.go; its policy "
                  "es-kube-controller-access opens 443/6443/12388 only (pkg/render/kubecontrollers)"),
        Component("log-collector", "LogCollector",
                  (API, tier_wait, LICENSE,
                   Wait("component:monitor", "Prometheus secrets are not available yet, waiting until they become "
                                             "available")),
                  ("namespace:tigera-fluentd",), 60,
                  "pkg/controller/logcollector/logcollector_controller.go (API server, tier, then license; Prometheus "
                  "client secret from the monitor controller)"),
        Component("compliance", "Compliance", (API, tier_wait, LICENSE, LINSEED_CERT),
                  ("namespace:tigera-compliance",), 60,
                  "pkg/controller/compliance/compliance_controller.go (API server, tier, then license; Linseed "
                  "certificate)"),
        Component("intrusion-detection", "IntrusionDetection",
                  (API, ES_UP, tier_wait, LICENSE,
                   replace(LINSEED_CERT, message="Linseed certificate are not available yet, waiting until they "
                                                 "become available")),
                  ("namespace:tigera-intrusion-detection",), 60,
                  "pkg/controller/intrusiondetection/intrusiondetection_controller.go (API server, Elasticsearch, "
                  "tier, then license; Linseed certificate)"),
        Component("manager", "Manager",
                  (API, tier_wait, LICENSE,
                   Wait("component:compliance", "Compliance is not ready", when="Compliance"),
                   Wait("component:log-storage-access", "Waiting for secret 'tigera-secure-linseed-cert' to become "
                                                        "available"),
                   Wait("component:monitor", "Waiting for secret 'calico-node-prometheus-tls' to become available"),
                   Wait("namespace:tigera-prometheus", "tigera-prometheus namespace does not exist Dependency on "
                                                       "tigera-prometheus not satisfied"),
                   Wait(ES, "Elasticsearch cluster configuration is not available, waiting for it to become "
                            "available")),
                  ("namespace:tigera-manager",), 90,
                  "pkg/controller/manager/manager_controller.go (API server, tier, then license; Compliance Ready "
                  "when a Compliance exists; trusted secrets from Linseed and Monitor; the tigera-prometheus "
                  "namespace; Elasticsearch configuration)"),
        Component("policy-recommendation", "PolicyRecommendation", (API, tier_wait, LICENSE, LINSEED_CERT),
                  ("namespace:tigera-policy-recommendation",), 60,
                  "pkg/controller/policyrecommendation/policyrecommendation_controller.go (API server, tier, then "
                  "license; Linseed certificate)"),
    )


def _edit(components: tuple[Component, ...], **changed: Component | None) -> tuple[Component, ...]:
    """`components` with some replaced by name (underscores for dashes); None drops one."""
    named = {name.replace("_", "-"): component for name, component in changed.items()}
    kept = (named.get(component.name, component) for component in components)
    return tuple(component for component in kept if component is not None)


def _by_name(components: tuple[Component, ...], name: str) -> Component:
    return next(component for component in components if component.name == name)


def _without(component: Component, fact: str) -> Component:
    """`component` no longer waiting for `fact`."""
    return replace(component, waits=tuple(wait for wait in component.waits if wait.fact != fact))


def _retier(components: tuple[Component, ...], tier: str) -> tuple[Component, ...]:
    """The tier waits renamed (every controller's message names the tier it waits for)."""
    def renamed(wait: Wait) -> Wait:
        if wait.fact != "tier:operator":
            return wait
        return _tier_wait(tier, suffix="see the" in wait.message)
    return tuple(replace(c, waits=tuple(map(renamed, c.waits))) for c in components)


_POOL_3_19 = {"allowedUses": ["Workload", "Tunnel"], "blockSize": 26, "disableBGPExport": False}
_BYPASS = ("calico-system", "tigera-eck-operator", "tigera-packetcapture", "tigera-prometheus")

S3_19 = Series(
    "3.19", ("v3.19.2", "v3.19.8"), "v1.34.5", "tigera-ee-v3.19.2", "allow-tigera", _components("allow-tigera"),
    _BYPASS, (443, 6443, 12388), _POOL_3_19, HEALTH,
    "v1.34.14 (3.19.8) differs only in the apiserver wait's text ('Waiting for Installation Variant to be "
    "set'); its CRDs only add fields this tool does not render, so the 3.19.2 CRDs stay the stricter schema. "
    "Bypass namespaces: KubeAPIServerEntityRule (pkg/render/common/networkpolicy/networkpolicy.go) in "
    "pkg/render/monitor/monitor.go, logstorage.go, packet_capture_api.go, and pkg/render/kubecontrollers.")

_3_20 = _edit(
    S3_19.components,
    apiserver=replace(_by_name(S3_19.components, "apiserver"),
                      waits=(Wait("calico", "Waiting for Installation Variant to be set"),)),
    manager=_without(_by_name(S3_19.components, "manager"), ES))
S3_20 = replace(
    S3_19, series="3.20", releases=("v3.20.7",), operator="v1.36.16", crds="tigera-ee-v3.20.7", components=_3_20,
    pool_defaults={**_POOL_3_19, "disableNewAllocations": False},
    changes="pkg/controller/ippool/defaults.go defaults disableNewAllocations; the Manager no longer waits for "
            "the Elasticsearch configuration and secrets (manager_controller.go); the ECK policy moves to "
            "pkg/render/logstorage/eck/eck.go (same rule); packet capture gets its own controller, on only with a "
            "PacketCaptureAPI (pkg/controller/packetcapture), which this tool does not render.")

S3_21 = replace(
    S3_20, series="3.21", releases=("v3.21.9",), operator="v1.38.16", crds="tigera-ee-v3.21.9",
    pool_defaults={**S3_20.pool_defaults, "assignmentMode": "Automatic"},
    changes="pkg/controller/ippool/defaults.go defaults assignmentMode: Automatic; Typha's port-limited "
            "policy (pkg/render/typha.go typhaNonClusterHostAllowTigeraPolicy) exists only with a NonClusterHost, "
            "and the goldmane and whisker TigeraStatus only with their own CRs: none of them rendered here.")

_apiserver_3_22 = _by_name(S3_21.components, "apiserver")
_recommend_3_22 = _by_name(S3_21.components, "policy-recommendation")
S3_22 = replace(
    S3_21, series="3.22", releases=("v3.22.7",), operator="v1.40.15", crds="tigera-ee-v3.22.7",
    components=_edit(S3_21.components,
                     apiserver=replace(_apiserver_3_22, provides=("api:projectcalico.org/v3",)),
                     policy_recommendation=replace(_recommend_3_22, provides=())),
    changes="the API server and policy recommendation run in calico-system (pkg/render/apiserver.go "
            "APIServerNamespace, pkg/render/policyrecommendation.go: common.CalicoNamespace).")

_3_23 = _retier(S3_22.components, "calico-system")
_manager_3_23 = _by_name(_3_23, "manager")
S3_23 = replace(
    S3_22, series="3.23", releases=("v3.23.1",), operator="v1.42.4", crds="tigera-ee-v3.23.1", tier="calico-system",
    components=_edit(
        _3_23,
        tiers=replace(_by_name(_3_23, "tiers"), waits=(API,),
                      source="pkg/controller/tiers/tiers_controller.go: Reconcile (IsProjectCalicoV3Available only, "
                             "no license; deletes the allow-tigera tier)"),
        monitor=replace(_by_name(_3_23, "monitor"), waits=(
            Wait("api:projectcalico.org/v3", "Waiting for LicenseKeyAPI to be ready"), LICENSE,
            Wait("calico", "Installation not found"),
            Wait("crds:monitoring.coreos.com", "Waiting for Prometheus resources to be ready")),
            source="pkg/controller/monitor/monitor_controller.go: Reconcile (license first; tier optional)"),
        log_storage_elastic=replace(_without(_by_name(_3_23, "log-storage-elastic"), "api-egress:tigera-eck-operator"),
                                    source="pkg/controller/logstorage/elastic/elastic_controller.go; the ECK "
                                           "operator's policy allows the kubernetes Service (pkg/render/logstorage/"
                                           "eck/eck.go)"),
        manager=replace(_without(_manager_3_23, "component:log-storage-access"), provides=(), waits=tuple(
            Wait(wait.fact, "Error querying required Monitor resource: ") if wait.fact == "component:monitor" else wait
            for wait in _without(_manager_3_23, "component:log-storage-access").waits),
            source="pkg/controller/manager/manager_controller.go (API server, tier, then license; Compliance Ready "
                   "when a Compliance exists; the Monitor CR (we wait for its TigeraStatus); the tigera-prometheus "
                   "namespace; no certificate waits)")),
    bypass_namespaces=("calico-system",),
    pool_defaults=S3_22.pool_defaults,
    changes="the operator's tier is calico-system (networkpolicy.go CalicoTierName); the tiers controller no longer "
            "needs the license and deletes allow-tigera; KubeAPIServerEntityRule is now the default/kubernetes "
            "Service (any endpoint port), so only kube-controllers' policies (pkg/render/kubecontrollers: "
            "Ports(443, 6443, 12388)) still need the bypass; Monitor needs the license; the Manager runs in "
            "calico-system and waits for no certificate.")

SERIES: dict[str, Series] = {row.series: row for row in (S3_19, S3_20, S3_21, S3_22, S3_23)}
"""Every supported series, oldest first."""


def supported() -> str:
    """The supported releases, as refusals name them."""
    checked = ", ".join(release for row in SERIES.values() for release in row.releases)
    return ", ".join(f"v{row.series}.x" for row in SERIES.values()) + f" (checked: {checked})"


def row(version: str) -> Series:
    """The row of a Calico Enterprise version ("v3.20.7"); UnsupportedSeries when there is none."""
    found = SERIES.get(versions.minor(version))
    if found is None:
        raise UnsupportedSeries(f"Calico Enterprise {version} is not supported; supported releases: {supported()}")
    return found
