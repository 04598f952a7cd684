"""The hub tree (OUT/_hubs/<hub.name>/): rendered once for every cluster of the fleet that names the hub.

It depends only on what those clusters share (renderer/model/hub.py: Shared), so any one of them renders
the same bytes; the pipeline refuses a fleet whose clusters of one hub disagree.
"""

from __future__ import annotations

from typing import Any

from renderer.model import Model
from renderer.model import hub as hub_
from renderer.render.engines.argocd import health_configmap
from renderer.render.engines.common import kustomization
from renderer.render.jinja import render_template
from renderer.render.tree import Tree


def render(model: Model) -> Tree:
    """The hub tree of a hub-mode cluster's hub, paths relative to OUT/_hubs/<hub.name>/."""
    hub = model.values.gitops.hub
    assert hub is not None
    context: dict[str, Any] = {"g": model.values.gitops, "h": hub, "in_cluster": hub_.IN_CLUSTER,
                               "project": hub_.roots_project(hub)}
    tree = {
        "applicationset.yaml": render_template("hub/applicationset.yaml.j2", appset=hub_.appset_name(hub),
                                               glob=hub_.generator_glob(model.values), **context),
        "project.yaml": render_template("hub/project.yaml.j2", **context),
        "argocd-cm-health.yaml": health_configmap(model, on_hub=True),
    }
    tree["kustomization.yaml"] = kustomization(["argocd-cm-health.yaml", "project.yaml", "applicationset.yaml"])
    return dict(sorted(tree.items()))
