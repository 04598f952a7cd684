"""The fake hub: a second cluster whose Argo CD delivers the SKS cluster (hub mode), kept in hub.json.

fake_kubectl answers a call on the hub when its kubeconfig's server is `FAKE_HUB_ENDPOINT`;
`FAKE_HUB_DOWN` makes the hub unreachable (kubectl's "Unable to connect"). The hub runs Argo CD from
the start (its CRDs and namespace `argocd`). Its ApplicationSet controller generates `<dir>-root`
for each cluster tree in git (`FAKE_HUB_GIT_CLUSTERS`, comma-separated directory names), and the root
is Synced and Healthy once Argo CD can do what the real one needs:

- a cluster Secret (label argocd.argoproj.io/secret-type: cluster; argo-cd v3.5.1 util/db/cluster.go)
  named after the destination, whose server is the SKS endpoint and whose config holds the bearer
  token of kube-system/argocd-manager (the token controller's, fake_cluster.sa_token), the cluster's
  CA, TLS verification on, and no client certificate;
- the repository readable (fake_cluster.repository_readable, on the hub);
- every tigerastatus of the cluster Available (the argocd-cm health checks make the children wait).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import fake_cluster as sim
from fakestate import env_list, load

STATE = "hub.json"
NAMESPACE = "argocd"


def endpoint() -> str:
    return os.environ.get("FAKE_HUB_ENDPOINT", "")


def new_state(namespace: Any, crd: Any, key_of: Any) -> dict[str, Any]:
    objects = [namespace(name) for name in ("default", "kube-system", "kube-public", NAMESPACE)]
    objects += [crd("argoproj.io", kind, plural, True) for kind, plural in (
        ("Application", "applications"), ("AppProject", "appprojects"), ("ApplicationSet", "applicationsets"))]
    objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": NAMESPACE},
                    "data": {}})
    return {"objects": {key_of(obj): obj for obj in objects}, "releases": []}


def _decoded(secret: dict[str, Any], name: str) -> str:
    return base64.b64decode((secret.get("data") or {}).get(name, "")).decode("utf-8", "replace")


def registered(hub: dict[str, Any], namespace: str, name: str) -> bool:
    """A cluster Secret lets the hub's Argo CD reach the SKS cluster as `name`."""
    cluster = sim.cloud_cluster()
    state = load("cluster.json", {"objects": {}})
    token = sim.token_of(state, "kube-system", "argocd-manager-long-lived-token")
    bound = "rbac.authorization.k8s.io|ClusterRoleBinding||argocd-manager-role-binding" in state["objects"]
    for key, secret in hub["objects"].items():
        labels = secret.get("metadata", {}).get("labels") or {}
        if not key.startswith(f"|Secret|{namespace}|") or labels.get("argocd.argoproj.io/secret-type") != "cluster":
            continue
        try:
            config = json.loads(_decoded(secret, "config") or "{}")
        except ValueError:
            continue
        tls = config.get("tlsClientConfig") or {}
        reaches = cluster is not None and _decoded(secret, "server") == cluster["endpoint"]
        trusted = cluster is not None and tls.get("insecure") is False and tls.get("caData") == sim.cluster_ca(cluster)
        by_token = bool(token) and bound and config.get("bearerToken") == token and not (
            tls.get("certData") or tls.get("keyData"))
        if _decoded(secret, "name") == name and reaches and trusted and by_token:
            return True
    return False


def _repo_url(spec: Any) -> str:
    """The repoURL of the ApplicationSet's git generator, wherever it nests (matrix, merge)."""
    if isinstance(spec, dict):
        if isinstance(spec.get("git"), dict) and spec["git"].get("repoURL"):
            return str(spec["git"]["repoURL"])
        return next((url for url in map(_repo_url, spec.values()) if url), "")
    if isinstance(spec, list):
        return next((url for url in map(_repo_url, spec) if url), "")
    return ""


def generated(hub: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The root Applications the hub's ApplicationSets generate, with the status Argo CD gives them."""
    out: dict[str, dict[str, Any]] = {}
    state = load("cluster.json", {"objects": {}})
    statuses = sim.tigerastatuses(state) if state["objects"] else {}
    healthy = bool(statuses) and all(
        any(c["type"] == "Available" and c["status"] == "True" for c in s["status"]["conditions"])
        for s in statuses.values())
    for key, appset in hub["objects"].items():
        if not key.startswith("argoproj.io|ApplicationSet|"):
            continue
        namespace = appset["metadata"].get("namespace", NAMESPACE)
        url = _repo_url(appset.get("spec", {}).get("generators", []))
        for directory in sorted(env_list("FAKE_HUB_GIT_CLUSTERS")):
            app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                   "metadata": {"name": f"{directory}-root", "namespace": namespace},
                   "spec": {"source": {"repoURL": url}, "destination": {"name": directory}}}
            done = (sim.repository_readable(hub, "argocd", app) and registered(hub, namespace, directory)
                    and healthy)
            app["status"] = {"sync": {"status": "Synced" if done else "Unknown"},
                             "health": {"status": "Healthy" if done else "Missing"}}
            out[f"{namespace}|{directory}-root"] = app
    return out
