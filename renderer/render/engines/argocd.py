"""Argo CD: an app-of-apps. One root Application, an AppProject, one child Application per stage.

Sync waves order the children only when argocd-cm has a health check for Application
(Argo CD >= 1.8 dropped it), so that customization is rendered too, beside the apps.
In hub mode (gitops.hub) the apps and the project live on the hub and target the cluster by name;
the root and the health checks are the hub tree's (renderer/render/hub.py).
"""

from __future__ import annotations

import json
from typing import Any

from renderer.model import Model, health, kinds
from renderer.model import hub as hub_
from renderer.model.facts import HEALTH
from renderer.model.stages import Stage
from renderer.render.engines.common import app_name, kustomization, stage_path
from renderer.render.jinja import render_template

IN_CLUSTER = hub_.IN_CLUSTER


def target(model: Model) -> tuple[str, str]:
    """Where the apps deploy, as a destination key and value: the engine's own cluster by its address, or in hub
    mode the SKS cluster by the name the bootstrap registers it under on the hub (argo-cd v3.5.1
    util/argo/argo.go: GetDestinationServer resolves `name` through the registered cluster Secrets)."""
    hub = model.values.gitops.hub
    return ("server", IN_CLUSTER) if hub is None else ("name", hub.clusterName)


def app_namespace(model: Model) -> str:
    """Where the Applications and the AppProject live: the namespace Argo CD runs in (the hub's in hub mode)."""
    hub = model.values.gitops.hub
    return model.values.gitops.argocdNamespace if hub is None else hub.namespace


def sync_options(stage: Stage) -> list[str]:
    """Argo CD sync options from the stage facts, nothing more."""
    options = []
    if stage.create_namespace:
        options.append("CreateNamespace=true")
    if stage.server_side:
        options.append("ServerSideApply=true")
    if stage.skip_dry_run:
        options.append("SkipDryRunOnMissingResource=true")
    if stage.prune_last:  # prunes after every apply of the sync succeeded (argo-cd v3.5.1
        options.append("PruneLast=true")  # gitops-engine/pkg/sync/sync_context.go; runTasks prunes first otherwise)
    return options


def destination_namespace(model: Model, stage: Stage) -> str:
    """Every app names a namespace: a project destination never matches an empty one
    (argo-cd v3.5.1 AppProject.isDestinationMatched; gobwas/glob compiles "" to match only "").
    Cluster-scoped objects drop it (controller/state.go: NormalizeTargetObjects)."""
    return stage.namespaces[0] if stage.namespaces else model.values.gitops.argocdNamespace


def _destination_namespaces(model: Model) -> list[str]:
    namespaces = {model.values.gitops.argocdNamespace}
    for stage in model.git_stages:
        namespaces.update(stage.namespaces)
    return sorted(namespaces)


def cluster_kinds(model: Model) -> list[kinds.Kind]:
    """The AppProject's clusterResourceWhitelist: the cluster-scoped kinds the git stages deliver (argo-cd
    v3.5.1 AppProject.IsGroupKindPermitted: a cluster-scoped kind not listed is refused)."""
    return kinds.whitelist(kind for stage in model.git_stages for kind in stage.delivers)


def source_repos(model: Model) -> list[str]:
    repos = [model.values.gitops.repoURL]
    if any(stage.helm_chart for stage in model.git_stages):
        repos.append(model.values.longhorn.chartRepository)
    return repos


def render(model: Model) -> dict[str, str]:
    context: dict[str, Any] = {"v": model.values, "m": model, "in_cluster": IN_CLUSTER, "target": target(model),
                               "app_namespace": app_namespace(model)}
    tree = {}
    child_files = ["project.yaml"]
    tree["argocd/apps/project.yaml"] = render_template(
        "argocd/project.yaml.j2", destinations=_destination_namespaces(model), source_repos=source_repos(model),
        cluster_kinds=cluster_kinds(model), **context)
    for placed in model.rollout:
        stage = placed.stage
        name = f"{stage.directory}.yaml"
        tree[f"argocd/apps/{name}"] = render_template(
            "argocd/application.yaml.j2", stage=stage, wave=placed.wave, name=app_name(model, stage),
            path=stage_path(model, stage), sync_options=sync_options(stage),
            namespace=destination_namespace(model, stage), ready_when=health.ready_when(stage),
            waits_for=placed.waits_for, **context)
        child_files.append(name)
    tree["argocd/apps/kustomization.yaml"] = kustomization(child_files)
    hub = model.values.gitops.hub
    if hub is not None:  # the hub's ApplicationSet generates the root app and holds the health checks
        tree[hub_.marker(hub)] = json.dumps({"cluster": model.cluster, "hub": hub.name}, indent=2) + "\n"
        return tree
    tree["argocd/root-application.yaml"] = render_template(
        "argocd/root-application.yaml.j2", path=f"{model.values.gitops.path}/argocd/apps", **context)
    tree["argocd/argocd-cm-health.yaml"] = health_configmap(model)
    return tree


def health_configmap(model: Model, in_stage: bool = False) -> str:
    """argocd-cm's health checks: applied by the handover onto an engine installed elsewhere, or (`in_stage`)
    a patch of the engine stage's argocd-cm, the same keys."""
    owned = any(stage.engine == "argocd" for stage in model.git_stages)
    return _health(model.values.gitops.argocdNamespace, in_stage=in_stage, owned=owned, hub=False)


def hub_health_configmap(namespace: str) -> str:
    """The same keys for a hub's Argo CD (the hub tree's, once per hub): they depend on no cluster."""
    return _health(namespace, in_stage=False, owned=False, hub=True)


def _health(namespace: str, **comment: bool) -> str:
    return render_template(
        "argocd/argocd-cm-health.yaml.j2", application_lua=health.APPLICATION_LUA, crd_lua=health.CRD_LUA,
        namespace=namespace, operator_lua={kind: health.operator_lua(kind) for kind in HEALTH}, **comment)
