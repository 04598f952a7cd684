"""Argo CD, played against the rendered app-of-apps (argo-cd v3.5.1 semantics, gitops-engine in-tree).

- AppProject rules: a destination matches by glob, and an empty namespace matches only an empty
  pattern (pkg/apis/application/v1alpha1/app_project_types.go: isDestinationMatched); cluster-scoped
  kinds must be whitelisted, namespaced objects' own namespaces must be destinations
  (controller/sync.go: validateSyncPermissions).
- The root app applies its children wave by wave; a wave is done when every child's health, read
  through the rendered argocd-cm Lua, is Healthy; Degraded fails the operation, which is retried
  from the first wave with the root's backoff; the last wave is not waited for
  (gitops-engine/pkg/sync/sync_context.go: Sync); 2 s between waves (controller/sync.go).
- A child syncs on its own, retried with its backoff (RetryStrategy.NextRetryAt); its health is
  the worst of its objects' health (controller/health.go: setApplicationHealth).
- kustomize build refuses files outside the stage directory (LoadRestrictionsRootOnly).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from renderer.model import Model
from renderer.model.stages import Stage
from renderer.simulate import content as content_
from renderer.simulate import lua
from renderer.simulate.cluster import ApplyError, Cluster, is_namespaced, key_of
from renderer.simulate.outcome import Outcome

WAVE_DELAY = 2
ORDER = ["Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"]


def _seconds(text: str) -> float:
    total = 0.0
    for number, unit in re.findall(r"(\d+)(h|m|s)", str(text)):
        total += int(number) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total or float(str(text).rstrip("s") or 0)


@dataclass
class Retry:
    limit: int
    duration: float
    factor: float
    cap: float
    attempts: int = 0

    @classmethod
    def of(cls, app: dict[str, Any]) -> Retry:
        retry = ((app.get("spec") or {}).get("syncPolicy") or {}).get("retry")
        if retry is None:  # automated sync default: Limit 5, backoff 5s x2 up to 3m (application_defaults.go)
            return cls(5, 5, 2, 180)
        backoff = retry.get("backoff") or {}
        return cls(int(retry.get("limit", 5)), _seconds(backoff.get("duration", "5s")),
                   float(backoff.get("factor", 2)), _seconds(backoff.get("maxDuration", "3m")))

    def next_wait(self) -> float | None:
        """Seconds before the next attempt, None once the limit is spent."""
        if self.limit >= 0 and self.attempts >= self.limit:
            return None
        wait = self.duration * self.factor ** self.attempts
        self.attempts += 1
        return min(wait, self.cap) if self.cap > 0 else wait


def _glob(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    if pattern == "":
        return value == ""
    return fnmatch.fnmatchcase(value, pattern)


@dataclass
class Project:
    destinations: list[tuple[str, str]]
    cluster_kinds: list[tuple[str, str]]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Project:
        spec = obj.get("spec") or {}
        destinations = [(str(d.get("server", "")), str(d.get("namespace", ""))) for d in spec.get("destinations", [])]
        kinds = [(str(k.get("group", "")), str(k.get("kind", ""))) for k in spec.get("clusterResourceWhitelist", [])]
        return cls(destinations, kinds)

    def destination_ok(self, server: str, namespace: str) -> bool:
        return any(_glob(s, server) and _glob(n, namespace) for s, n in self.destinations)

    def kind_ok(self, group: str, kind: str) -> bool:
        return any(fnmatch.fnmatchcase(group, g) and fnmatch.fnmatchcase(kind, k) for g, k in self.cluster_kinds)


@dataclass
class Child:
    obj: dict[str, Any]
    wave: int
    stage: Stage | None
    retry: Retry
    synced: bool = False
    next_try: float = 0.0
    blocked: str = ""
    """Why it can never sync (spec error, build error, permissions); empty while it can."""
    last_error: str = ""
    health_memo: tuple[tuple[int, bool, str, bool], tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


def _child_resources(cluster: Cluster, child: Child, built: content_.Content | None,
                     scripts: dict[str, str]) -> list[dict[str, Any]]:
    """Application.status.resources: kind, name and health of each managed object."""
    resources: list[dict[str, Any]] = []
    if built is None:
        return resources
    for obj in built.objects:
        key = key_of(obj)
        live = cluster.live(key)
        entry: dict[str, Any] = {"group": key[0], "kind": key[1], "namespace": key[2], "name": key[3]}
        if live is None:
            entry["health"] = {"status": "Missing"}
        elif f"{key[0]}/{key[1]}" in scripts:
            memo = cluster.status_key(key[1]) if key[0] == "operator.tigera.io" else None
            status, message = lua.health(scripts[f"{key[0]}/{key[1]}"], live, memo)
            entry["health"] = {"status": status, "message": message}
        elif key[1] == "ExternalSecret":  # resource_customizations/external-secrets.io/ExternalSecret/health.lua
            entry["health"] = {"status": "Healthy" if cluster.external_secret_ready(key[2]) else "Progressing"}
        resources.append(entry)
    if built.opaque and child.stage is not None and child.synced:
        for fact in child.stage.provides:
            if fact.startswith("crds:"):
                resources.append({"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition", "name": fact,
                                  "health": {"status": "Healthy" if cluster.holds(fact) else "Progressing"}})
    return resources


def _aggregate(resources: list[dict[str, Any]]) -> str:
    states = [resource["health"]["status"] for resource in resources if "health" in resource]
    live = [state for state in states if state != "Missing"]
    if resources and not live and states:
        return "Missing"
    return str(max(live or ["Healthy"], key=ORDER.index))


def run(model: Model, tree: dict[str, str], cluster: Cluster, deadline: float) -> Outcome:
    name = "argocd"
    apps_files = content_.objects_of(tree, "argocd/apps/kustomization.yaml")[0].get("resources", [])
    objects = [obj for file in apps_files for obj in content_.objects_of(tree, f"argocd/apps/{file}")]
    projects = [Project.of(obj) for obj in objects if obj.get("kind") == "AppProject"]
    if len(projects) != 1:
        return Outcome(name, False, cluster.now, [f"expected one AppProject in argocd/apps, found {len(projects)}"])
    project = projects[0]
    cm = content_.objects_of(tree, "argocd/argocd-cm-health.yaml")[0].get("data", {})
    prefix = "resource.customizations.health."
    scripts = {key[len(prefix):].replace("_", "/", 1): value for key, value in cm.items() if key.startswith(prefix)}
    app_script = scripts.get("argoproj.io/Application")
    if app_script is None:
        return Outcome(name, False, cluster.now, ["argocd-cm has no Application health check: waves order nothing"])
    (root,) = content_.objects_of(tree, "argocd/root-application.yaml")
    stages = {stage.directory: stage for stage in model.stages}
    base = model.values.gitops.path.rstrip("/") + "/"
    children = []
    for obj in objects:
        if obj.get("kind") != "Application":
            continue
        wave = int(((obj.get("metadata") or {}).get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0"))
        source = (obj.get("spec") or {}).get("source") or {}
        directory = str(source.get("path", "")).removeprefix(base)
        stage = stages.get(directory) or next((s for s in model.stages if s.helm_chart and "chart" in source), None)
        children.append(Child(obj, wave, stage, Retry.of(obj)))
    problems = _root_permissions(project, root, objects)
    if problems:
        return Outcome(name, False, cluster.now, problems)
    waves = sorted({child.wave for child in children})
    root_retry = Retry.of(root)
    built: dict[str, content_.Content | None] = {}
    created: set[str] = set()
    wave_index, wave_ready_at, root_done = 0, cluster.now, False
    while cluster.now <= deadline:
        if not root_done and cluster.now >= wave_ready_at:
            current = [child for child in children if child.wave == waves[wave_index]]
            for child in current:
                if child.name not in created:
                    created.add(child.name)
                    child.next_try = cluster.now
        for child in children:
            if child.name in created and not child.synced and not child.blocked and cluster.now >= child.next_try:
                _sync(model, tree, cluster, project, child, built)
        healths = {child.name: _health(cluster, child, built.get(child.name), scripts, app_script)
                   for child in children if child.name in created}
        if not root_done and cluster.now >= wave_ready_at:
            current = [child for child in children if child.wave == waves[wave_index]]
            states = [healths[child.name][0] for child in current]
            last = wave_index == len(waves) - 1
            if last:
                root_done = True
            elif "Degraded" in states:
                wait = root_retry.next_wait()
                if wait is None:
                    bad = [c.name for c in current if healths[c.name][0] == "Degraded"]
                    return Outcome(name, False, cluster.now, [f"root app failed for good at wave {waves[wave_index]}: "
                                                              f"{', '.join(bad)} Degraded (retries spent)"])
                wave_index, wave_ready_at = 0, cluster.now + wait
            elif all(state == "Healthy" for state in states):
                wave_index += 1
                wave_ready_at = cluster.now + WAVE_DELAY
        if root_done:
            finished = all(child.synced and healths[child.name][1] == "Healthy" for child in children)
            if finished and not cluster.converged():
                return Outcome(name, True, cluster.now, [], cluster.log)
        upcoming = [t for t in (cluster.next_event(), wave_ready_at if not root_done else None,
                                *(child.next_try for child in children
                                  if child.name in created and not child.synced and not child.blocked))
                    if t is not None and t > cluster.now]
        if not upcoming:
            break
        cluster.advance(min(upcoming))
    return Outcome(name, False, cluster.now, _stuck(children, created, built, cluster, scripts, app_script, waves,
                                                      wave_index, root_done), cluster.log)


def _root_permissions(project: Project, root: dict[str, Any], objects: list[dict[str, Any]]) -> list[str]:
    destination = (root.get("spec") or {}).get("destination") or {}
    problems = []
    for obj in objects:
        _, kind, namespace, obj_name = key_of(obj)
        namespace = namespace or str(destination.get("namespace", ""))
        if not project.destination_ok(str(destination.get("server", "")), namespace):
            problems.append(f"root app: namespace {namespace} is not permitted in the project ({kind} {obj_name})")
    return problems


def _sync(model: Model, tree: dict[str, str], cluster: Cluster, project: Project, child: Child,
          built: dict[str, content_.Content | None]) -> None:
    spec = child.obj.get("spec") or {}
    destination = spec.get("destination") or {}
    server, namespace = str(destination.get("server", "")), str(destination.get("namespace", ""))
    if not project.destination_ok(server, namespace):
        child.blocked = (f"application destination server '{server}' and namespace '{namespace}' do not match "
                         "any of the allowed destinations in project")
        return
    source = spec.get("source") or {}
    options = set(((spec.get("syncPolicy") or {}).get("syncOptions")) or [])
    if "chart" in source:
        result = content_.Content(child.stage, opaque=True)  # the chart, rendered by Argo CD itself
    else:
        directory = str(source.get("path", "")).removeprefix(model.values.gitops.path.rstrip("/") + "/")
        try:
            result = content_.build(tree, directory, child.stage)
        except ApplyError as exc:
            child.blocked = str(exc)
            return
        if result.outside_root:
            child.blocked = (f"kustomize build {directory}: security; file '{result.outside_root[0]}' is not in or "
                             "below the kustomization root (Argo CD builds with LoadRestrictionsRootOnly)")
            return
    built[child.name] = result
    for obj in result.objects:
        group, kind, obj_namespace, obj_name = key_of(obj)
        if is_namespaced(group, kind):
            if not project.destination_ok(server, obj_namespace or namespace):
                where = obj_namespace or namespace
                child.blocked = f"namespace {where} is not permitted in project ({kind} {obj_name})"
                return
        elif not project.kind_ok(group, kind):
            child.blocked = f"resource {group}:{kind} is not permitted in project"
            return
    try:
        if "CreateNamespace=true" in options and namespace:
            cluster.grant(f"namespace:{namespace}")
        if "SkipDryRunOnMissingResource=true" not in options:
            for obj in result.objects:
                group = key_of(obj)[0]
                if group and "." in group and not group.endswith("k8s.io"):
                    cluster.check({**obj, "spec": {}})
        content_.apply(cluster, result)
    except ApplyError as exc:
        child.last_error = str(exc)
        wait = child.retry.next_wait()
        if wait is None:
            child.blocked = f"sync failed, retries spent: {exc}"
        else:
            child.next_try = cluster.now + wait
        return
    child.synced = True


def _health(cluster: Cluster, child: Child, built: content_.Content | None, scripts: dict[str, str],
            app_script: str) -> tuple[str, str]:
    """(what the parent's Lua says, the child's own health); read again only when the cluster changed."""
    key = (cluster.version, child.synced, child.blocked, built is not None)
    if child.health_memo is None or child.health_memo[0] != key:
        child.health_memo = (key, _assess(cluster, child, built, scripts, app_script))
    return child.health_memo[1]


def _assess(cluster: Cluster, child: Child, built: content_.Content | None, scripts: dict[str, str],
            app_script: str) -> tuple[str, str]:
    resources = _child_resources(cluster, child, built, scripts) if child.synced else []
    own = "Unknown" if child.blocked else (_aggregate(resources) if child.synced else "Missing")

    sync = "Synced" if child.synced else "OutOfSync"
    app = {**child.obj, "status": {"sync": {"status": sync}, "health": {"status": own}, "resources": resources}}
    annotations = tuple(sorted(((child.obj.get("metadata") or {}).get("annotations") or {}).items()))
    memo = (annotations, sync, own, tuple((r["kind"], r["name"], (r.get("health") or {}).get("status"))
                                          for r in resources))
    status, _ = lua.health(app_script, app, memo)
    return status, own


def _stuck(children: list[Child], created: set[str], built: dict[str, content_.Content | None], cluster: Cluster,
           scripts: dict[str, str], app_script: str, waves: list[int], wave_index: int, root_done: bool) -> list[str]:
    problems = []
    if not root_done:
        problems.append(f"the root app never got past wave {waves[wave_index]}")
    for child in children:
        if child.name not in created:
            problems.append(f"{child.name}: never created (wave {child.wave})")
            continue
        parent_view, own = _health(cluster, child, built.get(child.name), scripts, app_script)
        if child.blocked or not child.synced or own != "Healthy":
            reason = child.blocked or child.last_error or f"health {own}, parent sees {parent_view}"
            problems.append(f"{child.name}: {reason}")
    return problems + cluster.converged()
