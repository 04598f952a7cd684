"""Argo CD, played against the rendered app-of-apps under every supported version's defaults.

Each version of renderer/simulate/engines.py (ARGOCD) plays from a copy of the same cluster; the
rules every version shares are in renderer/simulate/argocd_rules.py. Per version:

- The root app applies its children wave by wave; a wave is done when every child's health, read
  through the rendered argocd-cm Lua from the Application as that version writes it (resource
  health persisted or not), is Healthy; Degraded fails the operation, which is retried from the
  first wave with the root's backoff; the last wave is not waited for
  (gitops-engine/pkg/sync/sync_context.go: Sync); 2 s between waves (controller/sync.go).
- A child syncs on its own, retried with its backoff (RetryStrategy.NextRetryAt); after a sync it is
  compared with the live objects as Argo CD's diff does, and an object the server keeps in another
  form leaves it OutOfSync; its health is the worst of its objects' (controller/health.go).
- kustomize build refuses files outside the stage directory (LoadRestrictionsRootOnly).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from renderer.model import Model
from renderer.model.stages import Stage
from renderer.simulate import content as content_
from renderer.simulate import destination as destination_
from renderer.simulate import engines, lua, opaque
from renderer.simulate.cluster import ApplyError, Cluster, is_namespaced, key_of
from renderer.simulate.engines import Project, Retry, crd_live, drift, last_applied_too_large, worse
from renderer.simulate.outcome import Outcome

WAVE_DELAY = 2
ROOT_PROJECT = "argocd/root-project.yaml"
"""The root app's own project where it is not the tree's (hub mode: the hub tree's, renderer/simulate/hub.py)."""



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
    out_of_sync: str = ""
    """What the diff still finds after a successful sync (the app stays OutOfSync); empty when none."""
    health_memo: tuple[tuple[Any, ...], tuple[str, str, str]] | None = None

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


@dataclass(frozen=True)
class Setup:
    """What one play reads from the tree: the project, the health scripts and the version's defaults."""

    project: Project
    scripts: dict[str, str]
    app_script: str
    version: engines.ArgoCD


def run(model: Model, tree: dict[str, str], cluster: Cluster, deadline: float) -> Outcome:
    """Every supported Argo CD version, each from a copy of `cluster`; `cluster` ends as the first one stuck
    left its copy (or as the last one left it), for the report to read. A version is played only when a
    default in which it differs from one already played decided something in that play (see _twin)."""
    played: list[tuple[engines.ArgoCD, Cluster, Outcome]] = []
    for version in engines.ARGOCD:
        twin = _twin(version, [(probe, (start, outcome)) for probe, start, outcome in played])
        if twin is not None:
            played.append((version, *twin))
            continue
        start, probe = copy.deepcopy(cluster), Probe.of(version)
        played.append((probe, start, play_version(model, tree, start, deadline, probe)))
    failed = [(version, start, outcome) for version, start, outcome in played if not outcome.converged]
    seconds_taken = max(outcome.seconds for _, _, outcome in played)
    _, final, _ = failed[0] if failed else played[-1]
    cluster.__dict__.update(final.__dict__)
    if failed:
        problems = _tagged([(version, outcome.problems) for version, _, outcome in failed])
        return Outcome("argocd", False, seconds_taken, problems, failed[0][2].log)
    return Outcome("argocd", True, seconds_taken, [], played[-1][2].log)


@dataclass(frozen=True)
class Probe(engines.ArgoCD):
    """A version as it is played, noting each default whose value decided something (the flags that
    `_resources`, `_aggregate` and `_assess` read), so that a version differing only in defaults that
    decided nothing need not be played again."""

    decided: set[str] = field(default_factory=set, compare=False, hash=False)

    @staticmethod
    def of(version: engines.ArgoCD) -> Probe:
        return Probe(**{f.name: getattr(version, f.name) for f in fields(engines.ArgoCD)})


SENSED = frozenset({"persists_resource_health", "crd_health_builtin", "missing_counts_in_app_health"})
"""The defaults whose every read in this module notes, on a Probe, whether flipping it would change what is
computed there (`_decided`). A new default of engines.ArgoCD is not here until its reads note it: until then
versions that differ in it are always played apart."""

PLAYS = [0]
"""play_version calls since the process started (tests count them)."""

Played = TypeVar("Played")


def _twin(version: engines.ArgoCD, played: list[tuple[engines.ArgoCD, Played]]) -> Played | None:
    """What an earlier play gave when it is what playing `version` would give.

    Sound because a play is deterministic and reads the version only through the SENSED defaults (and
    `series`, for the delivery's name): when the played version and `version` differ only in defaults
    that decided nothing in that play (at every read, the other value would have computed the same), every
    step of playing `version` computes what the played one did, so it ends in the same state and outcome."""
    for probe, result in played:
        if not isinstance(probe, Probe):
            continue
        differing = {f.name for f in fields(engines.ArgoCD) if getattr(probe, f.name) != getattr(version, f.name)}
        differing -= {"series", "tag"}
        if differing <= SENSED and not differing & probe.decided:
            return result
    return None


def _decided(version: engines.ArgoCD, default: str, if_flipped_differs: bool) -> None:
    if if_flipped_differs and isinstance(version, Probe):
        version.decided.add(default)


def _tagged(failed: list[tuple[engines.ArgoCD, list[str]]]) -> list[str]:
    """Each problem once, tagged with the versions it stops (`... [Argo CD 2.14, 3.0-3.3]`), the tag before a
    closing `(file ...)` that renderer/simulate/verify.py reads."""
    seen: dict[str, list[str]] = {}
    for version, problems in failed:
        for problem in problems:
            seen.setdefault(problem, []).append(version.series)
    tagged = []
    for problem, series in seen.items():
        tag = f"[Argo CD {', '.join(series)}]"
        head, in_file = (problem[:problem.rindex(" (file ")], problem[problem.rindex(" (file "):]) if (
            problem.endswith(")") and " (file " in problem) else (problem, "")
        tagged.append(f"{head} {tag}{in_file}")
    return tagged


def with_flux(model: Model, tree: dict[str, str], cluster: Cluster, deadline: float, flux_run: Any) -> Outcome:
    """`engine: both` after the bootstrap: Argo CD (each version) and Flux watch the same tree on one cluster at
    once (renderer/simulate/engines.py: together); done when both are. Versions share plays as in run()."""
    played: list[tuple[engines.ArgoCD, Cluster, Outcome, Outcome]] = []
    for version in engines.ARGOCD:
        twin = _twin(version, [(probe, (start, argo, flux)) for probe, start, argo, flux in played])
        if twin is not None:
            played.append((version, *twin))
            continue
        start, probe = copy.deepcopy(cluster), Probe.of(version)

        def argo(shared: Cluster, version: engines.ArgoCD = probe) -> Outcome:
            return play_version(model, tree, shared, deadline, version)

        def flux(shared: Cluster) -> Outcome:
            played_flux: Outcome = flux_run(model, tree, shared, deadline)
            return played_flux

        results = engines.together(start, {"argocd": argo, "flux": flux})
        played.append((probe, start, results["argocd"], results["flux"]))
    failed = [(version, start, argo, flux) for version, start, argo, flux in played
              if not (argo.converged and flux.converged)]
    seconds_taken = max(max(argo.seconds, flux.seconds) for _, _, argo, flux in played)
    _, final, _, _ = failed[0] if failed else played[-1]
    cluster.__dict__.update(final.__dict__)
    if failed:
        problems = _tagged([(version, argo.problems) for version, _, argo, _ in failed])
        problems += list(dict.fromkeys(problem for *_, flux in failed for problem in flux.problems))
        return Outcome("argocd and flux", False, seconds_taken, problems, final.log)
    return Outcome("argocd and flux", True, seconds_taken, [], final.log)


def play_version(model: Model, tree: dict[str, str], cluster: Cluster, deadline: float,
                 version: engines.ArgoCD) -> Outcome:
    PLAYS[0] += 1
    name = f"argocd {version.series}"
    read = _read_apps(tree, version)
    if isinstance(read, str):
        return Outcome(name, False, cluster.now, [read])
    setup, objects, root = read
    children = _children(model, objects)
    # Hub mode: the generated root runs in the hub's roots project (simulate/hub.py puts it in the view).
    root_project = [Project.of(obj) for obj in content_.objects_of(tree, ROOT_PROJECT)] if ROOT_PROJECT in tree else []
    problems = _root_permissions(root_project[0] if root_project else setup.project, root, objects)
    if problems:
        return Outcome(name, False, cluster.now, problems)
    state = _Root(sorted({child.wave for child in children}), Retry.of(root), ready_at=cluster.now)
    built: dict[str, content_.Content | None] = {}
    while cluster.now <= deadline:
        state.open_wave(children, cluster.now)
        for child in children:
            if child.name in state.created and not child.synced and not child.blocked and cluster.now >= child.next_try:
                _sync(model, tree, cluster, setup.project, child, built)

        def healths(child: Child) -> tuple[str, str, str]:  # read only where the root looks
            return _health(cluster, child, built.get(child.name), setup)

        failure = state.step(children, healths, cluster.now)
        if failure:
            return Outcome(name, False, cluster.now, [failure])
        if state.done and not cluster.converged() and all(
                child.synced and not child.out_of_sync and healths(child)[1] == "Healthy" for child in children):
            return Outcome(name, True, cluster.now, [], cluster.log)
        upcoming = [t for t in (cluster.next_event(), *state.upcoming(children)) if t is not None and t > cluster.now]
        if not upcoming:
            break
        cluster.advance(min(upcoming))
    return Outcome(name, False, cluster.now, _stuck(children, state.created, built, cluster, setup, state.waves,
                                                      state.index, state.done), cluster.log)


Apps = tuple[Setup, list[dict[str, Any]], dict[str, Any]]
"""The project and health scripts, the objects under argocd/apps, the root app."""


def _read_apps(tree: dict[str, str], version: engines.ArgoCD) -> Apps | str:
    """The project, the health scripts, the objects under argocd/apps and the root app; or what is missing."""
    apps_files = content_.objects_of(tree, "argocd/apps/kustomization.yaml")[0].get("resources", [])
    objects = [obj for file in apps_files for obj in content_.objects_of(tree, f"argocd/apps/{file}")]
    projects = [Project.of(obj) for obj in objects if obj.get("kind") == "AppProject"]
    if len(projects) != 1:
        return f"expected one AppProject in argocd/apps, found {len(projects)}"
    cm = content_.objects_of(tree, "argocd/argocd-cm-health.yaml")[0].get("data", {})
    prefix = "resource.customizations.health."
    scripts = {key[len(prefix):].replace("_", "/", 1): value for key, value in cm.items() if key.startswith(prefix)}
    app_script = scripts.get("argoproj.io/Application")
    if app_script is None:
        return "argocd-cm has no Application health check: waves order nothing"
    (root,) = content_.objects_of(tree, "argocd/root-application.yaml")
    return Setup(projects[0], scripts, app_script, version), objects, root


def _children(model: Model, objects: list[dict[str, Any]]) -> list[Child]:
    """The child Applications, each with its wave and the stage its source path (or chart) delivers."""
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
    return children


@dataclass
class _Root:
    """The root app walking its waves: a wave starts once the one before is Healthy; a Degraded wave sends it
    back to the first after its retry backoff (argo-cd v3.5.1 controller/sync.go: sync waves, with the
    Application health check of argocd-cm)."""

    waves: list[int]
    retry: Retry
    ready_at: float
    index: int = 0
    done: bool = False
    created: set[str] = field(default_factory=set)

    def current(self, children: list[Child]) -> list[Child]:
        return [child for child in children if child.wave == self.waves[self.index]]

    def open_wave(self, children: list[Child], now: float) -> None:
        """The current wave's apps exist from the first time the root reaches it."""
        if self.done or now < self.ready_at:
            return
        for child in self.current(children):
            if child.name not in self.created:
                self.created.add(child.name)
                child.next_try = now

    def step(self, children: list[Child], healths: Callable[[Child], tuple[str, str, str]], now: float) -> str:
        """Move on where the current wave allows it; why the root failed for good, or empty."""
        if self.done or now < self.ready_at:
            return ""
        current = self.current(children)
        states = [healths(child)[0] for child in current]
        if self.index == len(self.waves) - 1:
            self.done = True
        elif "Degraded" in states:
            wait = self.retry.next_wait()
            if wait is None:
                bad = [c.name for c in current if healths(c)[0] == "Degraded"]
                return (f"root app failed for good at wave {self.waves[self.index]}: {', '.join(bad)} Degraded "
                        "(retries spent)")
            self.index, self.ready_at = 0, now + wait
        elif all(state == "Healthy" for state in states):
            self.index += 1
            self.ready_at = now + WAVE_DELAY
        return ""

    def upcoming(self, children: list[Child]) -> list[float | None]:
        """When the root or an app still to sync acts next."""
        return [None if self.done else self.ready_at,
                *(child.next_try for child in children
                  if child.name in self.created and not child.synced and not child.blocked)]


def _root_permissions(project: Project, root: dict[str, Any], objects: list[dict[str, Any]]) -> list[str]:
    spec = root.get("spec") or {}
    destination = spec.get("destination") or {}
    root_name = str((root.get("metadata") or {}).get("name", "root app"))
    problems = []
    repo = str((spec.get("source") or {}).get("repoURL", ""))
    if not project.source_ok(repo):
        problems.append(f"{root_name}: application repo {repo} is not permitted in project")
    for obj in objects:
        group, kind, namespace, obj_name = key_of(obj)
        namespace = namespace or str(destination.get("namespace", ""))
        if not project.destination_ok(str(destination.get("server", "")), namespace):
            problems.append(f"{root_name}: namespace {namespace} is not permitted in the project ({kind} {obj_name})")
        elif not project.kind_ok(group, kind, namespaced=True):
            problems.append(f"{root_name}: resource {group}:{kind} is not permitted in project")
    return problems


def _permission_problem(project: Project, server: str, namespace: str, objects: list[dict[str, Any]],
                        name: str = "") -> str:
    for obj in objects:
        group, kind, obj_namespace, obj_name = key_of(obj)
        namespaced = is_namespaced(group, kind)
        if not project.kind_ok(group, kind, namespaced):
            return f"resource {group}:{kind} is not permitted in project"
        if namespaced and not project.destination_ok(server, obj_namespace or namespace, name):
            return f"namespace {obj_namespace or namespace} is not permitted in project ({kind} {obj_name})"
    return ""


def _source(model: Model, tree: dict[str, str], source: dict[str, Any], namespace: str,
            child: Child) -> content_.Content | str:
    """What the child's source renders to, or why Argo CD cannot render it."""
    if "chart" in source:  # rendered by Argo CD itself, into the destination namespace
        return content_.chart(str(source["chart"]), namespace, child.stage)
    directory = str(source.get("path", "")).removeprefix(model.values.gitops.path.rstrip("/") + "/")
    try:
        result = content_.build(tree, directory, child.stage)
    except ApplyError as exc:
        return str(exc)
    if result.outside_root:
        return (f"kustomize build {directory}: security; file '{result.outside_root[0]}' is not in or "
                "below the kustomization root (Argo CD builds with LoadRestrictionsRootOnly)")
    return result


def _sync(model: Model, tree: dict[str, str], cluster: Cluster, project: Project, child: Child,
          built: dict[str, content_.Content | None]) -> None:
    spec = child.obj.get("spec") or {}
    destination = spec.get("destination") or {}
    namespace = str(destination.get("namespace", ""))
    server, cluster_name, child.blocked = destination_.resolve(model, cluster, destination)
    if child.blocked:
        return
    if not project.destination_ok(server, namespace, cluster_name):
        shown = cluster_name if destination.get("name") else server
        child.blocked = (f"application destination server '{shown}' and namespace '{namespace}' do not match "
                         "any of the allowed destinations in project")
        return
    source = spec.get("source") or {}
    repo = str(source.get("repoURL", ""))
    if not project.source_ok(repo):
        child.blocked = f"application repo {repo} is not permitted in project"
        return
    options = set(((spec.get("syncPolicy") or {}).get("syncOptions")) or [])
    result = _source(model, tree, source, namespace, child)
    if isinstance(result, str):
        child.blocked = result
        return
    built[child.name] = result
    try:
        declared = content_.declared(result)
    except ApplyError as exc:
        child.blocked = str(exc)
        return
    child.blocked = _permission_problem(project, server, namespace, [*result.objects, *declared], cluster_name)
    if "ServerSideApply=true" not in options and not child.blocked:
        child.blocked = last_applied_too_large([*result.objects, *declared], opaque.JSON_BYTES)
    if child.blocked:
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
    child.synced, child.last_error = True, ""
    child.out_of_sync = next(filter(None, (drift(obj, cluster.objects.get(key_of(obj)), child.obj)
                                           for obj in result.objects)), "")


def _health(cluster: Cluster, child: Child, built: content_.Content | None,
            setup: Setup) -> tuple[str, str, str]:
    """(what the parent's Lua says, the child's own health, the Lua's message); read again only when the
    cluster changed."""
    key = (cluster.version, child.synced, child.blocked, child.out_of_sync, built is not None)
    if child.health_memo is None or child.health_memo[0] != key:
        child.health_memo = (key, _assess(cluster, child, built, setup))
    return child.health_memo[1]


@dataclass(frozen=True)
class Assessed:
    """One managed object as the application controller sees it."""

    entry: dict[str, Any]
    health: str | None
    """None: no health check for its kind."""
    live: bool


def _resources(cluster: Cluster, child: Child, built: content_.Content | None, setup: Setup) -> list[Assessed]:
    found: list[Assessed] = []
    if built is None:
        return found
    pairs = []
    for obj in [*built.objects, *content_.declared(built)]:
        live = cluster.live(key_of(obj))
        if live is not None and obj.get("kind") == "CustomResourceDefinition":
            group = (obj.get("spec") or {}).get("group") or key_of(obj)[3].split(".", 1)[-1]
            live = crd_live(key_of(obj)[3], cluster.holds(f"crds:{group}"))
        pairs.append((obj, live))
    for obj, live in pairs:
        key = key_of(obj)
        script = setup.scripts.get(f"{key[0]}/{key[1]}")
        health: str | None = None
        if key[1] == "CustomResourceDefinition" and script is None:
            _decided(setup.version, "crd_health_builtin", live is not None)  # else no health either way
            if setup.version.crd_health_builtin and live is not None:
                health = "Healthy" if live["status"]["conditions"] else "Progressing"
        elif live is None:
            health = "Missing"
        elif script is not None:
            memo = cluster.status_key(key[1]) if key[0] == "operator.tigera.io" else None
            health = lua.health(script, live, memo)[0]
        elif key[1] == "ExternalSecret":  # resource_customizations/external-secrets.io/ExternalSecret/health.lua
            health = "Healthy" if cluster.external_secret_ready(key[2]) else "Progressing"
        has_check = script is not None or key[1] == "ExternalSecret" or (
            key[1] == "CustomResourceDefinition" and setup.version.crd_health_builtin)
        entry = {"group": key[0], "kind": key[1], "namespace": key[2], "name": key[3],
                 "status": "OutOfSync" if child.out_of_sync or live is None else "Synced"}
        found.append(Assessed(entry, health if (health != "Missing" or has_check) else None, live is not None))
    return found


def _aggregate(resources: list[Assessed], version: engines.ArgoCD) -> str:
    """controller/health.go: setApplicationHealth, as each version does it."""
    _decided(version, "missing_counts_in_app_health", any(r.health == "Missing" for r in resources)
             or bool(resources and not any(r.live for r in resources)))  # else both readings agree
    status = "Healthy"
    for resource in resources:
        if resource.health is None or (resource.health == "Missing" and not version.missing_counts_in_app_health):
            continue
        status = worse(status, resource.health)
    if not version.missing_counts_in_app_health and resources and not any(r.live for r in resources):
        status = worse(status, "Missing")
    return status


def _assess(cluster: Cluster, child: Child, built: content_.Content | None,
            setup: Setup) -> tuple[str, str, str]:
    resources = _resources(cluster, child, built, setup) if child.synced else []
    own = "Unknown" if child.blocked else (_aggregate(resources, setup.version) if child.synced else "Missing")
    persist = setup.version.persists_resource_health
    parent_view, message = _parent_view(setup, child, resources, own, persist)
    if isinstance(setup.version, Probe) and "persists_resource_health" not in setup.version.decided:
        try:
            differs = _parent_view(setup, child, resources, own, not persist) != (parent_view, message)
        except lua.LuaFailure:
            differs = True
        _decided(setup.version, "persists_resource_health", differs)
    return parent_view, own, message


def _parent_view(setup: Setup, child: Child, resources: list[Assessed], own: str, persist: bool) -> tuple[str, str]:
    """What the Application health Lua says of the child, its status written as a version persisting resource
    health (or not) writes it."""
    entries = [{**r.entry, **({"health": {"status": r.health}} if persist and r.health is not None else {})}
               for r in resources]
    sync = "Synced" if child.synced and not child.out_of_sync else "OutOfSync"
    status: dict[str, Any] = {"sync": {"status": sync}, "health": {"status": own}, "resources": entries}
    if not persist:
        status["resourceHealthSource"] = "appTree"
    annotations = tuple(sorted(((child.obj.get("metadata") or {}).get("annotations") or {}).items()))
    memo = (annotations, sync, own, persist, tuple((e["kind"], e["name"], (e.get("health") or {}).get("status"))
                                                   for e in entries))
    return lua.health(setup.app_script, {**child.obj, "status": status}, memo)


def _stuck(children: list[Child], created: set[str], built: dict[str, content_.Content | None], cluster: Cluster,
           setup: Setup, waves: list[int], wave_index: int, root_done: bool) -> list[str]:
    problems = []
    if not root_done:
        problems.append(f"the root app never got past wave {waves[wave_index]}")
    for child in children:
        if child.name not in created:
            problems.append(f"{child.name}: never created (wave {child.wave})")
            continue
        parent_view, own, message = _health(cluster, child, built.get(child.name), setup)
        if child.blocked or not child.synced or child.out_of_sync or own != "Healthy":
            reason = (child.blocked or child.last_error
                      or (f"OutOfSync after every sync: {child.out_of_sync}" if child.out_of_sync else "")
                      or f"health {own}, parent sees {parent_view}")
            problems.append(f"{child.name}: {reason}")
        elif parent_view != "Healthy" and not root_done and child.wave == waves[wave_index]:
            problems.append(f"argocd/argocd-cm-health.yaml: the Application health check reads {child.name} "
                            f"(synced, {own}) as {parent_view}: {message}")
    return problems + cluster.converged()
