"""Flux, played against the rendered Kustomizations (kustomize-controller v1.9.4, source-controller v1.9.1).

- GitRepository: the URL must be http(s) or ssh://, and ssh:// needs a secretRef (identity,
  known_hosts) (source-controller api/v1 GitRepositorySpec, gitrepository_controller.go).
- dependsOn: a Kustomization waits until every dependency is Ready, re-checked every 30 s
  (--requeue-dependency) (internal/controller/kustomization_controller.go: checkDependencies).
- Apply failure or a failed health check: Ready=False, next try after retryInterval; the objects
  applied so far stay.
- wait: true: Ready only when every applied object is Current within `timeout`, polled every 5 s
  (fluxcd/pkg ssa WaitForSetWithContext): healthCheckExprs (CEL, evaluated here with cel-python)
  for their kinds, kstatus otherwise (a Ready condition decides; no conditions reads Current).
- Builds use LoadRestrictionsNone; SOPS files are decrypted only with spec.decryption.
- sourceRef must name a GitRepository the tree delivers, else "Source ... not found", retried
  (internal/controller/kustomization_controller.go: getSource); a dependsOn entry naming no
  Kustomization waits forever ("unable to get 'ns/name' dependency").
- A HelmRelease installs its chart (renderer/simulate/opaque.py) into spec.targetNamespace, which
  exists only if something creates it: install.createNamespace (helm-controller v1.2.0
  api/v2/helmrelease_types.go: Install.CreateNamespace).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

from renderer.model import Model
from renderer.simulate import content as content_
from renderer.simulate.cluster import ApplyError, Cluster, key_of
from renderer.simulate.engines import seconds
from renderer.simulate.outcome import Outcome

REQUEUE_DEPENDENCY = 30
HEALTH_POLL = 5


@cache
def _environment() -> Any:
    import celpy

    limit = sys.getrecursionlimit()
    try:
        return celpy.Environment()
    finally:
        sys.setrecursionlimit(limit)  # celpy raises it process-wide; our expressions are a line long


@cache
def _program(expression: str) -> Any:
    environment = _environment()
    return environment.program(environment.compile(expression))


def cel_true(expression: str, obj: dict[str, Any]) -> bool:
    key = (expression, json.dumps(obj, sort_keys=True))
    if key not in _RESULTS:
        _RESULTS[key] = _evaluate(expression, obj)
    return _RESULTS[key]


_RESULTS: dict[tuple[str, str], bool] = {}
"""Objects repeat across polls and clusters; cel-python is slow (milliseconds per evaluation)."""


def _evaluate(expression: str, obj: dict[str, Any]) -> bool:
    import celpy

    activation = {key: celpy.json_to_cel(value) for key, value in obj.items()}  # type: ignore[attr-defined]
    try:
        return bool(_program(expression).evaluate(activation))
    except celpy.CELEvalError:  # type: ignore[attr-defined]
        return False  # Unknown: the wait goes on (fluxcd/cli-utils statusreaders: errResourceToResourceStatus)


def _kstatus_current(obj: dict[str, Any], exprs: dict[tuple[str, str], dict[str, str]]) -> bool:
    kind = key_of(obj)[1]
    expression = exprs.get((str(obj.get("apiVersion", "")), kind))
    if expression is not None:
        for field_ in ("inProgress", "failed"):
            if field_ in expression and cel_true(expression[field_], obj):
                return False
        return cel_true(expression["current"], obj)
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return True


@dataclass
class _State:
    obj: dict[str, Any]
    ready: bool = False
    next_try: float = 0.0
    waiting_until: float | None = None
    built: content_.Content | None = None
    error: str = ""

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.obj.get("spec") or {})


def run(model: Model, tree: dict[str, str], cluster: Cluster, deadline: float) -> Outcome:
    (repository,) = content_.objects_of(tree, "flux/gitrepository.yaml")
    url = str((repository.get("spec") or {}).get("url", ""))
    secret = (repository.get("spec") or {}).get("secretRef")
    if not url.startswith(("http://", "https://", "ssh://")):
        return Outcome("flux", False, cluster.now,
                       [f"flux/gitrepository.yaml: GitRepository url {url!r}: must start with http, https or ssh"])
    if url.startswith("ssh://") and not secret:
        return Outcome("flux", False, cluster.now, [f"flux/gitrepository.yaml: GitRepository {url}: ssh:// needs "
                                                    "spec.secretRef (identity, known_hosts); never cloned"])
    files = content_.objects_of(tree, "flux/kustomization.yaml")[0].get("resources", [])
    states = [_State(obj) for file in files for obj in content_.objects_of(tree, f"flux/{file}")
              if obj.get("kind") == "Kustomization"]
    sources = {("GitRepository", str(obj["metadata"].get("namespace", "")), str(obj["metadata"]["name"]))
               for file in files for obj in content_.objects_of(tree, f"flux/{file}")
               if obj.get("kind") == "GitRepository"}
    for state in states:
        ref = state.spec.get("sourceRef") or {}
        wanted = (str(ref.get("kind", "")), str(ref.get("namespace") or state.obj["metadata"].get("namespace", "")),
                  str(ref.get("name", "")))
        if wanted not in sources:
            state.error = f"Source '{wanted[0]}/{wanted[1]}/{wanted[2]}' not found"
            state.next_try = float("inf")
    by_name = {state.name: state for state in states}
    stages = {stage.directory: stage for stage in model.stages}
    base = "./" + model.values.gitops.path.rstrip("/") + "/"
    while cluster.now <= deadline:
        for state in states:
            if state.next_try == float("inf"):
                continue
            if not state.ready and state.waiting_until is None and cluster.now >= state.next_try:
                _reconcile(tree, cluster, state, by_name, stages, base)
            if state.waiting_until is not None:
                _check_health(cluster, state)
        if all(state.ready for state in states) and not cluster.converged():
            return Outcome("flux", True, cluster.now, [], cluster.log)
        retries = [state.next_try for state in states if not state.ready and state.waiting_until is None
                   and state.next_try != float("inf")]
        polls = [cluster.now + HEALTH_POLL for state in states if state.waiting_until is not None]
        upcoming = [t for t in (cluster.next_event(), *retries, *polls) if t is not None and t > cluster.now]
        if not upcoming:
            break
        cluster.advance(min(upcoming))
    problems = [f"{state.name}: {state.error or 'not Ready'}" for state in states if not state.ready]
    return Outcome("flux", False, cluster.now, problems + cluster.converged(), cluster.log)


def _reconcile(tree: dict[str, str], cluster: Cluster, state: _State, by_name: dict[str, _State],
               stages: dict[str, Any], base: str) -> None:
    spec = state.spec
    retry = seconds(spec.get("retryInterval") or spec.get("interval", "10m"))
    unknown = [dep.get("name") for dep in spec.get("dependsOn") or [] if dep.get("name") not in by_name]
    if unknown:
        state.error = f"unable to get '{state.obj['metadata'].get('namespace', '')}/{unknown[0]}' dependency: not found"
        state.next_try = float("inf")
        return
    pending = [dep["name"] for dep in spec.get("dependsOn") or [] if not by_name[dep["name"]].ready]
    if pending:
        state.error = f"dependency '{pending[0]}' is not ready"
        state.next_try = cluster.now + REQUEUE_DEPENDENCY
        return
    directory = str(spec.get("path", "")).removeprefix(base)
    stage = stages.get(directory) or next((s for s in stages.values() if s.helm_chart and directory.endswith(s.slug)),
                                          None)
    try:
        built = content_.build(tree, directory, stage)
        for release in [obj for obj in built.objects if obj.get("kind") == "HelmRelease"]:
            _install(cluster, release, built.files.get(key_of(release), ""))
        if built.encrypted and not spec.get("decryption"):
            raise ApplyError(f"{directory}: SOPS-encrypted file without spec.decryption")
        content_.apply(cluster, built)
    except ApplyError as exc:
        state.error = str(exc)
        state.next_try = cluster.now + retry
        return
    state.built = built
    if spec.get("wait"):
        state.waiting_until = cluster.now + seconds(spec.get("timeout") or "5m")
    else:
        state.ready = True


def _install(cluster: Cluster, release: dict[str, Any], file: str) -> None:
    """What helm-controller does with a HelmRelease: create the target namespace if asked, install the chart."""
    spec = release.get("spec") or {}
    namespace = str(spec.get("targetNamespace") or release["metadata"].get("namespace", ""))
    if (spec.get("install") or {}).get("createNamespace"):
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, file)
    chart = str((((spec.get("chart") or {}).get("spec")) or {}).get("chart", ""))
    content_.apply(cluster, content_.chart(chart, namespace, origin=file))


def _check_health(cluster: Cluster, state: _State) -> None:
    assert state.waiting_until is not None and state.built is not None
    exprs = {(str(entry["apiVersion"]), str(entry.get("kind", ""))): entry
             for entry in state.spec.get("healthCheckExprs") or []}
    pending = []
    for obj in state.built.objects:
        live = cluster.live(key_of(obj)) or {}
        if key_of(obj)[1] == "ExternalSecret":
            live = {**live, "status": {"conditions": [{"type": "Ready",
                                                        "status": str(cluster.external_secret_ready(key_of(obj)[2]))}]}}
        if not _kstatus_current(live, exprs):
            pending.append(f"{key_of(obj)[1]} {key_of(obj)[3]}")
    if not pending:
        state.ready, state.waiting_until, state.error = True, None, ""
    elif cluster.now >= state.waiting_until:
        state.error = f"health check failed: timeout waiting for {', '.join(pending)}"
        state.waiting_until = None
        state.next_try = cluster.now + seconds(state.spec.get("retryInterval") or "1m")
