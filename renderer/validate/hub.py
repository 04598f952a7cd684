"""Hub mode's rules on one values file (gitops.hub); what clusters of one hub must share is the pipeline's
(renderer/pipeline.py: one hub tree per hub name, renderer/model/hub.py: Shared)."""

from __future__ import annotations

from typing import Any

from renderer.errors import Problem
from renderer.load import LocatedValues


def problems(values: LocatedValues, data: dict[str, Any]) -> list[Problem]:
    """An Argo CD hub delivers Applications only; a cluster named like the hub's roots project would share it."""
    gitops = data["gitops"]
    hub = gitops.get("hub")
    if hub is None:
        return []
    found = []
    if gitops["engine"] != "argocd":
        file, line, column = values.origin(("gitops", "hub"))
        found.append(Problem(
            file, line, column, "gitops.hub",
            f"hub mode is Argo CD only: the hub's ApplicationSet generates Argo CD Applications, and gitops.engine "
            f"is {gitops['engine']}", hint="set gitops.engine: argocd, or remove gitops.hub (README, section "
            "\"Hub mode\", says why Flux has no hub mode)"))
    name = hub.get("name", "hub")
    if data["cluster"]["name"] == f"{name}-roots":
        file, line, column = values.value_origin(("cluster", "name"))
        found.append(Problem(
            file, line, column, "cluster.name",
            f"on hub {name}, the AppProject {name}-roots holds the generated root Applications; a cluster's own "
            "AppProject takes the cluster's name, so this cluster cannot be named so",
            hint="rename the cluster, or set gitops.hub.name to another hub name"))
    return found
