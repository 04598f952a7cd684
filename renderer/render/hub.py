"""The hub tree (OUT/_hubs/<hub.name>/): rendered once for every cluster of the fleet that names the hub.

It depends only on what those clusters share (renderer/model/hub.py: Shared), so any one of them renders
the same bytes; the pipeline refuses a fleet whose clusters of one hub disagree. What the fleet needs from each
cluster is a Member, small enough for the cluster's cache record (renderer/cache/clusters.py): a reused cluster
joins its hub without its model being built again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from renderer import check
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
class Member:
    """What the hub trees of a fleet read from one cluster of a hub: what the hub tree is rendered from (Shared),
    the name it is registered under, and what checking the tree reads from the cluster (check.check: its
    Kubernetes minor, Calico Enterprise version and gitops.path)."""

    cluster: str
    cluster_name: str
    shared: hub_.Shared
    kubernetes_minor: str
    tigera_version: str
    gitops_path: str

    @classmethod
    def of(cls, model: Model) -> Member | None:
        """None for a cluster without gitops.hub."""
        hub = model.values.gitops.hub
        if hub is None:
            return None
        return cls(model.cluster, hub.clusterName, hub_.Shared.of(model.values), model.kubernetes_minor,
                   model.values.tigera.version, model.values.gitops.path)

    def to_json(self) -> dict[str, Any]:
        return {**{key: value for key, value in self.__dict__.items() if key != "shared"},
                "shared": dict(self.shared.__dict__)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        """The inverse of to_json; TypeError or KeyError for anything else (the record is then not used)."""
        shared = hub_.Shared(**data["shared"])
        member = cls(**{**data, "shared": shared})
        flags = ("prune", "selfHeal")
        texts = [value for key, value in [*member.__dict__.items(), *shared.__dict__.items()]
                 if key not in (*flags, "shared")]
        if not all(isinstance(text, str) for text in texts) or \
                not all(isinstance(getattr(shared, flag), bool) for flag in flags):
            raise TypeError("not a hub member record")
        return member


@dataclass(frozen=True)
class HubTree:
    """One hub's tree as the fleet renders it, for every cluster naming it; `member` is its first cluster's, for
    the check stage (the tree itself is rendered from Shared only)."""

    name: str
    member: Member
    tree: Tree
    sources: tuple[str, ...]
    """The values files of the cluster it is rendered from: rendering any one cluster of the hub writes the hub
    tree, so the fix command of a stale hub tree names that one."""

    @property
    def directory(self) -> str:
        """Relative to OUT: where write and --check put it (the lock is OUT/_hubs/.<name>.lock)."""
        return f"{hub_.HUBS_DIR}/{self.name}"

    def check(self) -> Counter[str]:
        """check.check of the tree with its first cluster's model, from what the member kept of it."""
        member = self.member
        paths = (member.gitops_path,) if member.gitops_path else ()  # check.repository_paths, nothing vendored
        return check.check_texts(self.tree, member.kubernetes_minor, member.tigera_version, paths)


def fleet(members: list[tuple[Member, tuple[str, ...]]]) -> list[HubTree]:
    """One hub tree per hub name among `members` (member, values files); ValuesError, naming both files, when
    two clusters of one hub disagree on what its tree depends on (model/hub.py: Shared)."""
    first: dict[str, tuple[hub_.Shared, Member, str]] = {}
    files: dict[str, tuple[str, ...]] = {}
    registered: dict[tuple[str, str], tuple[str, str]] = {}
    problems = []
    for member, sources in members:
        shared = member.shared
        other = registered.setdefault((shared.name, member.cluster_name), (member.cluster, sources[-1]))
        if other[0] != member.cluster:  # argo-cd v3.5.1 util/argo/argo.go: "there are 2 clusters with the same name"
            problems.append(Problem(
                sources[-1], 0, 0, "gitops.hub.clusterName",
                f"cluster {member.cluster} would be registered with hub {shared.name} as {member.cluster_name}, "
                f"as cluster {other[0]} ({other[1]}) is: Argo CD refuses a destination name two clusters carry",
                hint="give each cluster of a hub its own gitops.hub.clusterName (the default is cluster.name)"))
        agreed, owner, owner_file = first.setdefault(shared.name, (shared, member, sources[-1]))
        differences = agreed.differences(shared)
        if differences:
            problems.append(Problem(
                sources[-1], 0, 0, "gitops.hub",
                f"cluster {member.cluster} and cluster {owner.cluster} ({owner_file}) share hub {shared.name} but "
                f"disagree on what its one tree holds: {'; '.join(differences)}",
                hint="the clusters of one hub must agree on these; or give one of them another gitops.hub.name"))
        files.setdefault(shared.name, sources)
    if problems:
        raise ValuesError(problems)
    return [HubTree(name, member, render(shared), files[name]) for name, (shared, member, _) in sorted(first.items())]
