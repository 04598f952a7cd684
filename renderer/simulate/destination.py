"""Where an Argo CD Application deploys: its destination resolved as the delivering Argo CD does.

argo-cd v3.5.1 util/argo/argo.go: GetDestinationServer refuses a destination with both `name` and
`server`, resolves `name` through the registered clusters ("there are no clusters with this name"),
and ValidatePermissions turns a refusal into an InvalidSpecError condition: the app never syncs
(v2.14 util/argo/argo.go: ValidateDestination, same messages). The project is then matched against
the resolved cluster's name and server (app_project_types.go: IsDestinationPermitted).

Without hub mode the engine runs in the cluster: it knows itself only, as `in-cluster` at
https://kubernetes.default.svc (pkg/apis/application/v1alpha1/application_defaults.go). In hub mode
the engine is the hub's: `in-cluster` is the hub, and the SKS cluster is known only once the
bootstrap registered it (the fact `registered:<name>`, granted by renderer/simulate/__init__.py).
"""

from __future__ import annotations

from typing import Any

from renderer.model import Model
from renderer.model import hub as hub_
from renderer.simulate.cluster import Cluster

IN_CLUSTER_NAME = "in-cluster"


def address(name: str) -> str:
    """The API address a registered cluster is known by (symbolic: only names are judged)."""
    return f"https://{name}.sks.example"


def registered(cluster: Cluster) -> dict[str, str]:
    """The clusters the delivering Argo CD knows besides itself: name -> address."""
    return {fact.removeprefix("registered:"): address(fact.removeprefix("registered:"))
            for fact in cluster.since if fact.startswith("registered:") and cluster.holds(fact)}


def resolve(model: Model, cluster: Cluster, destination: dict[str, Any]) -> tuple[str, str, str]:
    """(server, name, refusal) of `destination` as the engine that delivers `model`'s cluster resolves it;
    a refusal says why the app can never sync to this cluster."""
    server = str(destination.get("server") or "").rstrip("/")
    name = str(destination.get("name") or "")
    if server and name:
        return "", "", f"application destination can't have both name and server defined: {name} {server}"
    known = {IN_CLUSTER_NAME: hub_.IN_CLUSTER, **registered(cluster)}
    if name:
        if name not in known:
            return "", "", f"there are no clusters with this name: {name}"
        server = known[name]
    elif server:
        name = next((known_name for known_name, url in known.items() if url == server), "")
        if not name:
            return "", "", f"error getting cluster by server {server!r}: no cluster with this URL is registered"
    else:
        return "", "", "Destination server missing from app spec"
    hub = model.values.gitops.hub
    if hub is not None and server == hub_.IN_CLUSTER:
        return "", "", (f"the destination {name} is the hub itself, not cluster {hub.clusterName}: its objects "
                        "would land on the hub")
    return server, name, ""
