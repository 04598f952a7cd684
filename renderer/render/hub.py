"""The hub tree (OUT/_hubs/<hub.name>/): rendered once for every cluster of the fleet that names the hub.

It depends only on what those clusters share (renderer/model/hub.py: Shared), so any one of them renders
the same bytes; the pipeline refuses a fleet whose clusters of one hub disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from renderer.errors import Problem, ValuesError
from renderer.model import Model
from renderer.model import hub as hub_
from renderer.render.engines.argocd import hub_health_configmap
from renderer.render.engines.common import kustomization
from renderer.render.jinja import render_template
from renderer.render.tree import Tree


def render(shared: hub_.Shared) -> Tree:
    """The hub tree of a hub, paths relative to OUT/_hubs/<hub.name>/: from what its clusters share, nothing else."""
    context: dict[str, Any] = {"s": shared, "in_cluster": hub_.IN_CLUSTER, "project": hub_.roots_project(shared)}
    tree = {
        "applicationset.yaml": render_template("hub/applicationset.yaml.j2", appset=hub_.appset_name(shared),
                                               glob=shared.glob, **context),
        "project.yaml": render_template("hub/project.yaml.j2", **context),
        "argocd-cm-health.yaml": hub_health_configmap(shared.namespace),
    }
    tree["kustomization.yaml"] = kustomization(["argocd-cm-health.yaml", "project.yaml", "applicationset.yaml"])
    return dict(sorted(tree.items()))


@dataclass(frozen=True)
class HubTree:
    """One hub's tree as the fleet renders it, for every cluster naming it; `model` is its first cluster's, for
    the check stage (the tree itself is rendered from Shared only)."""

    name: str
    model: Model
    tree: Tree
    sources: tuple[str, ...]
    """The values files of the cluster it is rendered from: rendering any one cluster of the hub writes the hub
    tree, so the fix command of a stale hub tree names that one."""

    @property
    def directory(self) -> str:
        """Relative to OUT: where write and --check put it (the lock is OUT/_hubs/.<name>.lock)."""
        return f"{hub_.HUBS_DIR}/{self.name}"


def fleet(members: list[tuple[Model, tuple[str, ...]]]) -> list[HubTree]:
    """One hub tree per hub name among `members` (model, values files); ValuesError, naming both files, when
    two clusters of one hub disagree on what its tree depends on (model/hub.py: Shared)."""
    first: dict[str, tuple[hub_.Shared, Model, str]] = {}
    files: dict[str, tuple[str, ...]] = {}
    registered: dict[tuple[str, str], tuple[str, str]] = {}
    problems = []
    for model, sources in members:
        hub = model.values.gitops.hub
        if hub is None:
            continue
        other = registered.setdefault((hub.name, hub.clusterName), (model.cluster, sources[-1]))
        if other[0] != model.cluster:  # argo-cd v3.5.1 util/argo/argo.go: "there are 2 clusters with the same name"
            problems.append(Problem(
                sources[-1], 0, 0, "gitops.hub.clusterName",
                f"cluster {model.cluster} would be registered with hub {hub.name} as {hub.clusterName}, as cluster "
                f"{other[0]} ({other[1]}) is: Argo CD refuses a destination name two clusters carry",
                hint="give each cluster of a hub its own gitops.hub.clusterName (the default is cluster.name)"))
        shared = hub_.Shared.of(model.values)
        agreed, owner, owner_file = first.setdefault(shared.name, (shared, model, sources[-1]))
        differences = agreed.differences(shared)
        if differences:
            problems.append(Problem(
                sources[-1], 0, 0, "gitops.hub",
                f"cluster {model.cluster} and cluster {owner.cluster} ({owner_file}) share hub {shared.name} but "
                f"disagree on what its one tree holds: {'; '.join(differences)}",
                hint="the clusters of one hub must agree on these; or give one of them another gitops.hub.name"))
        files.setdefault(shared.name, sources)
    if problems:
        raise ValuesError(problems)
    return [HubTree(name, model, render(shared), files[name]) for name, (shared, model, _) in sorted(first.items())]
