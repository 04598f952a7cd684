"""The simulated SKS cluster behind the fake kubectl and helm: what exists at the current tick.

Time is the fake clock (fakestate.now(): one tick per fake call), so "later" means "some polls
later" and a test never sleeps. The rules follow the controllers the bootstrap waits for:

- a CustomResourceDefinition is Established some ticks after it was applied (DELAYS);
- nodes join some ticks after their nodepool was added, and turn Ready some ticks after both
  they and the Installation exist (Calico is their CNI);
- the Tigera operator runs once a node exists (host network, tolerates NotReady); only then do
  TigeraStatus objects and the namespaces it creates exist;
- the Tigera API server (projectcalico.org/v3) is Available once nodes are Ready and
  tigera-operator has its pull secret;
- the `allow-tigera` tier appears some ticks after the LicenseKey, and the licensed components
  turn Available some ticks after license and bypass (those that reach the API server);
- TigeraStatus conditions have the shapes tigera/operator v1.34.5 pkg/controller/status/status.go
  writes: a controller degraded before it is ready to monitor writes a Degraded condition only;
  once ready, Available, Progressing and Degraded.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from fakestate import DEFAULT_ENDPOINT, cluster_ca, env_list, load, now

OPERATOR = "operator.tigera.io"
LICENSED = {"IntrusionDetection": ["intrusion-detection"], "LogCollector": ["log-collector"],
            "LogStorage": ["log-storage", "log-storage-access", "log-storage-dashboards", "log-storage-elastic",
                           "log-storage-esmetrics", "log-storage-kubecontrollers", "log-storage-secrets"],
            "Manager": ["manager"], "Monitor": ["monitor"], "Compliance": ["compliance"],
            "PolicyRecommendation": ["policy-recommendation"]}
REACHES_API = {"intrusion-detection", "log-storage-access", "log-storage-elastic", "manager"}
STAMP = "2024-09-09T14:40:00Z"


# Ticks (calls reaching the cloud or the cluster) before what controllers do has happened;
# FAKE_DELAY_<NAME> overrides one. Chosen so that every wait of a fresh run polls at least once.
DELAYS = {"CRDS": 8, "NODES": 2, "CNI": 3, "TIER": 3, "LICENSED": 10}


def delay(name: str) -> int:
    return int(os.environ.get(f"FAKE_DELAY_{name}", DELAYS[name]))


def has(state: dict[str, Any], group: str, kind: str, name: str, ns: str = "") -> bool:
    return f"{group}|{kind}|{ns}|{name}" in state["objects"]


def born(state: dict[str, Any], key: str) -> int | None:
    tick: int | None = state.setdefault("born", {}).get(key)
    return tick


def first_of(state: dict[str, Any], group: str, kind: str) -> int | None:
    ticks = [tick for key, tick in state.setdefault("born", {}).items() if key.startswith(f"{group}|{kind}|")]
    return min(ticks) if ticks else None


# ---- Exoscale side -------------------------------------------------------------------------

def cloud_cluster() -> dict[str, Any] | None:
    clusters = load("cloud.json", {"clusters": []})["clusters"]
    return clusters[0] if clusters else None


def endpoint() -> tuple[str, str]:
    ip, _, port = os.environ.get("FAKE_API_ENDPOINT", DEFAULT_ENDPOINT).partition(":")
    return ip, port


def node_names() -> list[str]:
    """Nodes that have joined: FAKE_DELAY ticks after their nodepool was added."""
    cluster = cloud_cluster()
    names: list[str] = []
    for pool in (cluster or {}).get("nodepools", []):
        if now() >= pool.get("added", 0) + delay("NODES"):
            names += [f"{pool['name']}-{index}" for index in range(pool["size"])]
    return names


def nodes_ready(state: dict[str, Any]) -> bool:
    installed = born(state, f"{OPERATOR}|Installation||default")
    pools = (cloud_cluster() or {}).get("nodepools", [])
    joined = min((pool.get("added", 0) + delay("NODES") for pool in pools), default=None)
    return (bool(node_names()) and installed is not None and joined is not None
            and now() >= max(installed, joined) + delay("CNI"))


def nodes(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    ready = "True" if nodes_ready(state) else "False"
    reason = "KubeletReady" if ready == "True" else "KubeletNotReady"
    return {name: {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                   "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason}]}}
            for name in node_names()}


# ---- Calico Enterprise ---------------------------------------------------------------------

def operator_running() -> bool:
    return bool(node_names())


def apiserver_ready(state: dict[str, Any]) -> bool:
    return (operator_running() and nodes_ready(state) and has(state, OPERATOR, "APIServer", "default")
            and has(state, "", "Secret", "tigera-pull-secret", "tigera-operator")
            and sum(1 for key in state["objects"] if key.startswith(f"{OPERATOR}|APIServer|")) == 1)


def licensed(state: dict[str, Any]) -> bool:
    return apiserver_ready(state) and has(state, "projectcalico.org", "LicenseKey", "default")


def tiers(state: dict[str, Any]) -> set[str]:
    """Tiers the operator's tiers controller has created (and `default`, which always exists)."""
    names = {"default"}
    license_at = born(state, "projectcalico.org|LicenseKey||default")
    if licensed(state) and license_at is not None and now() >= license_at + delay("TIER"):
        names.add("allow-tigera")
    return names


def operator_namespaces(state: dict[str, Any]) -> set[str]:
    if not operator_running() or not has(state, OPERATOR, "Installation", "default"):
        return set()
    names = {"calico-system"}
    if has(state, OPERATOR, "LogStorage", "tigera-secure") and licensed(state):
        names |= {"tigera-eck-operator", "tigera-elasticsearch", "tigera-kibana"}
    return names


def _selects_eck(obj: dict[str, Any]) -> bool:
    """Whether a bypass policy reaches the pods of tigera-eck-operator: a NetworkPolicy there, or a
    GlobalNetworkPolicy whose namespaceSelector names it (or selects every namespace)."""
    if obj["kind"] == "NetworkPolicy":
        return obj["metadata"].get("namespace") == "tigera-eck-operator"
    selector = str(obj.get("spec", {}).get("namespaceSelector", "all()")).strip()
    return selector in ("", "all()") or "'tigera-eck-operator'" in selector


def bypass_keys(state: dict[str, Any]) -> list[str]:
    """Keys of the policies that open the real API endpoint to the ECK operator."""
    _, port = endpoint()
    found = []
    for key, obj in state["objects"].items():
        if obj.get("apiVersion") != "projectcalico.org/v3" or obj["kind"] not in ("NetworkPolicy",
                                                                                 "GlobalNetworkPolicy"):
            continue
        if not _selects_eck(obj):
            continue
        for rule in obj.get("spec", {}).get("egress", []):
            destination = rule.get("destination", {})
            if port in [str(p) for p in destination.get("ports", [])] or \
                    destination.get("services", {}).get("name") == "kubernetes":
                found.append(key)
                break
    return found


def bypass_open(state: dict[str, Any]) -> bool:
    return bool(bypass_keys(state))



def _status(name: str, conditions: list[dict[str, str]]) -> dict[str, Any]:
    for condition in conditions:
        condition.setdefault("lastTransitionTime", STAMP)
    return {"apiVersion": "operator.tigera.io/v1", "kind": "TigeraStatus", "metadata": {"name": name},
            "spec": {}, "status": {"conditions": conditions}}


def degraded_only(name: str, reason: str, message: str) -> dict[str, Any]:
    """SetDegraded before ReadyToMonitor: status.go writes the Degraded condition alone."""
    return _status(name, [{"type": "Degraded", "status": "True", "reason": reason, "message": message}])


def monitored(name: str, progressing: str = "", failing: str = "") -> dict[str, Any]:
    """After ReadyToMonitor: Available, Progressing and Degraded, in the order status.go sets them."""
    if not progressing and not failing:
        return _status(name, [
            {"type": "Available", "status": "True", "reason": "AllObjectsAvailable",
             "message": "All objects available"},
            {"type": "Progressing", "status": "False", "reason": "AllObjectsAvailable",
             "message": "All Objects Available"},
            {"type": "Degraded", "status": "False", "reason": "AllObjectsAvailable",
             "message": "All Objects Available"}])
    return _status(name, [
        {"type": "Available", "status": "False", "reason": "Unknown", "message": ""},
        {"type": "Progressing", "status": "True" if progressing and not failing else "False",
         "reason": "ResourceNotReady" if progressing and not failing else "Unknown",
         "message": progressing if not failing else ""},
        {"type": "Degraded", "status": "True" if failing else "False",
         "reason": "PodFailure" if failing else "Unknown", "message": failing}])


def tigerastatuses(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not operator_running():
        return {}
    out: dict[str, dict[str, Any]] = {}
    ready = nodes_ready(state)
    calico_waiting = "" if ready else "DaemonSet \"calico-system/calico-node\" is not yet scheduled on any nodes"
    no_license = ("ResourceNotFound", 'License not found: licensekeys.projectcalico.org "default" not found')
    if has(state, OPERATOR, "Installation", "default"):
        out["calico"] = monitored("calico", progressing=calico_waiting)
        out["ippools"] = monitored("ippools")
    if any(key.startswith(f"{OPERATOR}|APIServer|") for key in state["objects"]):
        if not apiserver_ready(state):
            why = "Waiting for Installation to be ready" if not ready else (
                "Multiple APIServer CRs provided" if has(state, OPERATOR, "APIServer", "default")
                else 'Error querying pull secret: secrets "tigera-pull-secret" not found')
            out["apiserver"] = degraded_only("apiserver", "ResourceNotReady", why + ": ")
        else:
            out["apiserver"] = monitored("apiserver")
        if not apiserver_ready(state):
            out["tiers"] = degraded_only("tiers", "ResourceNotReady", "Waiting for Tigera API server to be ready: ")
        elif not licensed(state):
            out["tiers"] = degraded_only("tiers", *no_license)
        else:
            out["tiers"] = monitored("tiers", progressing="" if "allow-tigera" in tiers(state) else "Creating tiers")
    for kind, names in LICENSED.items():
        if not has(state, OPERATOR, kind, "tigera-secure"):
            continue
        for name in names:
            if not licensed(state):
                out[name] = degraded_only(name, *no_license)
            elif name in REACHES_API and not bypass_open(state):
                out[name] = monitored(name, failing=f"Pod tigera-{name}/{name}-0 has crash looping container: "
                                                     "dial tcp 10.96.0.1:443: i/o timeout\nretrying")
            elif not settled(state, name):
                out[name] = monitored(name, progressing=f"Deployment \"tigera-{name}/{name}\" is progressing")
            else:
                out[name] = monitored(name)
    for name in env_list("FAKE_TIGERASTATUS_DEGRADED"):
        if name in out:
            out[name] = degraded_only(name, "ResourceNotReady",
                                      "Elasticsearch cluster health is red: \nshard allocation failed")
    return dict(sorted(out.items()))


def established(state: dict[str, Any], key: str) -> bool:
    tick = born(state, key)
    return tick is None or now() >= tick + delay("CRDS")


def settled(state: dict[str, Any], name: str) -> bool:
    """A licensed component is up some ticks after the license (and the bypass, if it needs it)."""
    ticks = [born(state, "projectcalico.org|LicenseKey||default")]
    if name in REACHES_API:
        ticks += [state.get("born", {}).get(key) for key in bypass_keys(state)] or [None]
    return all(tick is not None for tick in ticks) and now() >= max(t for t in ticks if t is not None) + delay(
        "LICENSED")


# ---- GitOps engines ------------------------------------------------------------------------
# An engine installed by the bootstrap runs once its pods have the pod network (Calico: the nodes
# Ready); one in FAKE_PREINSTALLED runs from the start. The fake Git server is private when
# FAKE_GIT_TOKEN is set: an engine reads the repository only with a Secret holding that token (or that
# deploy key, for an ssh URL).

ENGINE_NAMESPACES = {"argocd": ("argocd", "argocd-server"), "flux": ("flux-system", "kustomize-controller")}


def engine_runs(state: dict[str, Any], engine: str) -> bool:
    if engine in env_list("FAKE_PREINSTALLED"):
        return True
    ns, deployment = ENGINE_NAMESPACES[engine]
    return has(state, "apps", "Deployment", deployment, ns) and nodes_ready(state)


def _field(secret: dict[str, Any] | None, name: str) -> str:
    data = (secret or {}).get("data") or {}
    return base64.b64decode(data.get(name, "")).decode("utf-8", "replace")


def repository_readable(state: dict[str, Any], engine: str, obj: dict[str, Any]) -> bool:
    token = os.environ.get("FAKE_GIT_TOKEN", "")
    if not token:
        return True
    ns = obj["metadata"].get("namespace", "")
    if engine == "argocd":
        url = obj["spec"]["source"]["repoURL"]
        return any(token in (_field(secret, "password"), _field(secret, "sshPrivateKey"))
                   and _field(secret, "url") == url
                   and secret["metadata"].get("labels", {}).get("argocd.argoproj.io/secret-type") == "repository"
                   for key, secret in state["objects"].items() if key.startswith(f"|Secret|{ns}|"))
    name = (obj["spec"].get("secretRef") or {}).get("name", "")
    secret = state["objects"].get(f"|Secret|{ns}|{name}")
    by_ssh = _field(secret, "identity") == token and bool(_field(secret, "known_hosts"))
    return bool(name) and (_field(secret, "password") == token or by_ssh)


# ---- ServiceAccount tokens -----------------------------------------------------------------
# The token controller fills a kubernetes.io/service-account-token Secret whose annotation names an existing
# ServiceAccount with token, ca.crt and namespace. One fixture token (tests search every output for it).

SA_TOKEN = "sa-token-fixture-b71c0d9e"


def token_of(state: dict[str, Any], ns: str, name: str) -> str:
    secret = state["objects"].get(f"|Secret|{ns}|{name}")
    if not secret or secret.get("type") != "kubernetes.io/service-account-token":
        return ""
    account = (secret["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name", "")
    return f"{SA_TOKEN}.{ns}.{account}" if f"|ServiceAccount|{ns}|{account}" in state["objects"] else ""


def with_token(state: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    token = token_of(state, meta.get("namespace", ""), meta["name"])
    cluster = cloud_cluster()
    if not token or cluster is None:
        return obj
    data = {"token": token, "ca.crt": base64.b64decode(cluster_ca(cluster)).decode(), "namespace": meta["namespace"]}
    return {**obj, "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def with_workload_status(state: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """Deployments and StatefulSets ready once the pod network runs; an Application Synced, a GitRepository
    Ready, once its engine runs and can read the repository."""
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet"):
        ready = nodes_ready(state) or obj["metadata"]["name"] == "tigera-operator"
        replicas = (obj.get("spec") or {}).get("replicas", 1)
        if kind == "Deployment":
            status: dict[str, Any] = {"conditions": [{"type": "Available", "status": "True" if ready else "False"}]}
        else:
            status = {"replicas": replicas, "readyReplicas": replicas if ready else 0}
        return {**obj, "status": status}
    engine = "argocd" if kind == "Application" else "flux"
    done = engine_runs(state, engine) and repository_readable(state, engine, obj)
    if kind == "Application":
        return {**obj, "status": {"sync": {"status": "Synced" if done else "Unknown"},
                                  "health": {"status": "Healthy" if done else "Missing"}}}
    return {**obj, "status": {"conditions": [{"type": "Ready", "status": "True" if done else "False"}]}}
