"""Hub mode (gitops.hub): one Argo CD on a hub cluster delivers every cluster of the fleet that names it.

The facts every renderer, checker and simulator of hub mode reads, in one place:

- The hub tree: OUT/_hubs/<hub.name>/, one per hub, rendered once for the fleet: the ApplicationSet, the
  AppProject its root Applications use and the health checks (argocd-cm) the waves need. `_` cannot
  start a cluster name (a DNS label), so it never collides with a cluster tree OUT/<cluster>/.
- The marker: argocd/hub-<hub.name>.json in each cluster tree, the file the ApplicationSet's git files
  generator finds (argo-cd v3.5.1 applicationset/generators/git.go: generateParamsForGitFiles reads each
  matched file's keys as parameters, plus `path` = the file's directory). A cluster of another hub, or
  with its own engine, has no such file, so the hub never picks it up.
- The root Application of each cluster lives on the hub, syncs the cluster's argocd/apps into the hub's
  Argo CD namespace (the child Applications and the cluster's AppProject) with the hub project
  <hub.name>-roots; the children target the cluster by `destination.name` (its registered name).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from renderer.model.records import Hub, Values

HUBS_DIR = "_hubs"
"""OUT/_hubs/<hub.name>/: the hub trees, beside the cluster trees."""

REGISTER_STEP = "hub-register"
"""The bootstrap step that applies this cluster's Argo CD cluster Secret to the hub (grants REGISTERED)."""
APPLY_STEP = "hub-apply"
"""The bootstrap step that server-side applies the hub tree to the hub (grants APPLIED)."""
STEP_FACTS = {REGISTER_STEP: "hub:registered", APPLY_STEP: "hub:applied"}
"""What each hub step of bootstrap.sh's STEPS table makes true: the bootstrap renders, and the simulator
plays, these names and facts from here."""

IN_CLUSTER = "https://kubernetes.default.svc"
"""The hub itself, as its own Argo CD names it (argo-cd v3.5.1 common/common.go: KubernetesInternalAPIServerAddr)."""


def marker(hub: Hub | Shared) -> str:
    """The cluster tree's file the hub's ApplicationSet generates from (relative to OUT/<cluster>/)."""
    return f"argocd/hub-{hub.name}.json"


def roots_project(hub: Hub | Shared) -> str:
    """The AppProject of the generated root Applications (a cluster's own project is named after the cluster)."""
    return f"{hub.name}-roots"


def root_application(cluster: str) -> str:
    """The root Application the ApplicationSet generates for a cluster (its template's `{{.cluster}}-root`,
    the `cluster` key of the cluster's marker file)."""
    return f"{cluster}-root"


def appset_name(hub: Hub | Shared) -> str:
    return f"{hub.name}-clusters"


def tree_root(values: Values) -> str:
    """The repository directory holding the cluster trees (gitops.path is <root>/<cluster>); "" at the root."""
    return posixpath.dirname(values.gitops.path.rstrip("/"))


def hub_path(values: Values) -> str:
    """The hub tree's repository path (what a `kubectl apply -k` of the hub is given, from the repository root)."""
    hub = values.gitops.hub
    assert hub is not None
    return posixpath.join(tree_root(values), HUBS_DIR, hub.name)


def generator_glob(values: Values) -> str:
    """The git files generator's path: every cluster tree's marker of this hub, one directory level below the
    tree root (git ls-files pathspec; argo-cd v3.5.1 util/git/client.go: LsFiles)."""
    return Shared.of(values).glob


@dataclass(frozen=True)
class Shared:
    """What every cluster of one hub must agree on: the hub tree is rendered from it, once."""

    name: str
    namespace: str
    repoURL: str
    revision: str
    root: str
    prune: bool
    selfHeal: bool
    """The generated roots' sync policy (gitops.automated)."""

    @classmethod
    def of(cls, values: Values) -> Shared:
        hub, gitops = values.gitops.hub, values.gitops
        assert hub is not None
        return cls(hub.name, hub.namespace, gitops.repoURL, gitops.revision, tree_root(values),
                   gitops.automated.prune, gitops.automated.selfHeal)

    @property
    def glob(self) -> str:
        return posixpath.join(self.root, "*", marker(self))

    def differences(self, other: Shared) -> list[str]:
        """Readable `key: a vs b` for each fact that differs."""
        keys = {"namespace": "gitops.hub.namespace", "repoURL": "gitops.repoURL", "revision": "gitops.revision",
                "root": "the tree root (gitops.path without the cluster)", "prune": "gitops.automated.prune",
                "selfHeal": "gitops.automated.selfHeal"}
        return [f"{label}: {getattr(self, key)!r} vs {getattr(other, key)!r}" for key, label in keys.items()
                if getattr(self, key) != getattr(other, key)]
