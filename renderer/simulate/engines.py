"""The engine versions a tree is proven against, and each behaviour the simulator relies on in them.

One row per supported version, with its defaults (what a fresh install does, not what a person may
set by hand), and one list of the behaviours the simulator plays, each with the upstream file at the
tag it was read in. The README's "Supported engine versions" says the same in prose.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ArgoCD:
    series: str
    tag: str
    """The release the behaviours were read in (github.com/argoproj/argo-cd)."""
    persists_resource_health: bool
    """controller.resource.health.persist default: status.resources[].health in the Application."""
    crd_health_builtin: bool
    """Ships a CustomResourceDefinition health check (without one a CRD has no health at all)."""
    missing_counts_in_app_health: bool
    """A Missing resource with a health check makes the app Missing (to 3.3); 3.4 leaves it out."""

    @property
    def name(self) -> str:
        return f"Argo CD {self.series}"


@dataclass(frozen=True)
class Flux:
    series: str
    tag: str
    """The controller releases read (renderer/simulate/flux.py names the behaviours)."""

    @property
    def name(self) -> str:
        return f"Flux {self.series}"


ARGOCD = (
    ArgoCD("2.14", "v2.14.21", persists_resource_health=True, crd_health_builtin=False,
           missing_counts_in_app_health=True),
    ArgoCD("3.0-3.3", "v3.3.14", persists_resource_health=False, crd_health_builtin=True,
           missing_counts_in_app_health=True),
    ArgoCD("3.4-3.5", "v3.5.1", persists_resource_health=False, crd_health_builtin=True,
           missing_counts_in_app_health=False),
)
"""Each row's defaults hold for every release of its series (docs/operator-manual/upgrading/: 2.14-3.0.md
changed resource health, 3.3-3.4.md "Applications with Missing health status")."""

FLUX = (Flux("2.x", "kustomize-controller v1.9.4, source-controller v1.9.1"),)


@dataclass(frozen=True)
class Behaviour:
    what: str
    sources: tuple[str, ...]
    """`<tag> <path>[: symbol]` in the engine's repository (or another named repository)."""


ARGOCD_BEHAVIOURS = (
    Behaviour("resource health is persisted into status.resources by default in 2.14, not from 3.0 "
              "(status.resourceHealthSource: appTree); status.health and status.sync always are",
              ("v2.14.21 docs/operator-manual/argocd-cmd-params-cm.yaml: controller.resource.health.persist",
               "v3.5.1 docs/operator-manual/argocd-cmd-params-cm.yaml: controller.resource.health.persist",
               "v3.5.1 controller/health.go: setApplicationHealth",
               "v3.5.1 docs/operator-manual/upgrading/2.14-3.0.md: Health status in the Application CR")),
    Behaviour("no CustomResourceDefinition health in 2.14; 3.0 ships one; an argocd-cm entry wins over it",
              ("gitops-engine c08b0a72c1f1 (pinned by v2.14.21) pkg/health/health.go: GetHealthCheckFunc",
               "v3.5.1 resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health.lua",
               "v3.5.1 util/lua/lua.go: GetHealthScript")),
    Behaviour("app health is the worst of its resources' (Healthy < Suspended < Progressing < Missing < "
              "Degraded < Unknown); from 3.4 a missing resource counts only when all are missing",
              ("v2.14.21 controller/health.go: setApplicationHealth",
               "v3.3.14 controller/health.go: setApplicationHealth",
               "v3.5.1 controller/health.go: setApplicationHealth",
               "v3.5.1 docs/operator-manual/upgrading/3.3-3.4.md: Applications with Missing health status")),
    Behaviour("a retry limit below 0 retries without end; once a limited budget is spent, auto-sync does "
              "not try that revision again; the wait is duration x factor^n, capped by maxDuration",
              ("v3.5.1 controller/appcontroller.go: processRequestedAppOperation (Retry.Limit < 0)",
               "v3.5.1 controller/appcontroller.go: autoSync (Skipping auto-sync: failed previous sync attempt)",
               "v3.5.1 pkg/apis/application/v1alpha1/types.go: RetryStrategy.NextRetryAt",
               "v2.14.21 controller/appcontroller.go: processRequestedAppOperation")),
    Behaviour("AppProject: every source repoURL must match sourceRepos (git URLs normalised, '*' stops at "
              "'/'); cluster-scoped kinds must be in clusterResourceWhitelist and not blacklisted; "
              "namespaced kinds in namespaceResourceWhitelist when set, not in namespaceResourceBlacklist",
              ("v3.5.1 pkg/apis/application/v1alpha1/app_project_types.go: IsSourcePermitted, "
               "IsGroupKindNamePermitted",)),
    Behaviour("client-side apply keeps the object as JSON in kubectl.kubernetes.io/last-applied-configuration; "
              "the API server refuses annotations over 262144 bytes in total; ServerSideApply=true "
              "writes none",
              ("v3.5.1 docs/user-guide/sync-options.md: Server-Side Apply (262144 bytes)",
               "kubernetes staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go: "
               "TotalAnnotationSizeLimitB")),
    Behaviour("the default diff (no ServerSideApply, no ServerSideDiff) strips from the live object every "
              "map field the last-applied configuration lacks, list items by position, then compares "
              "with a JSON merge patch (lists whole) for kinds outside its scheme",
              ("v3.5.1 gitops-engine/pkg/diff/diff.go: Diff, ThreeWayDiff, threeWayMergePatch",
               "v3.5.1 gitops-engine/pkg/utils/json/json.go: RemoveMapFields, RemoveListFields",
               "gitops-engine c08b0a72c1f1 pkg/utils/json/json.go (the same in 2.14)")),
    Behaviour("compare options: ServerSideDiff=true compares a server-side dry run (the stored form); "
              "ignoreDifferences jsonPointers are dropped from both sides before the diff",
              ("v3.5.1 controller/state.go: CompareAppState (compare-options ServerSideDiff)",
               "v3.5.1 util/argo/normalizers/diff_normalizer.go")),
    Behaviour("sync waves: a wave starts when every resource of the earlier ones is Healthy; Degraded "
              "fails the operation; an Application's health comes only from an argocd-cm health check",
              ("v3.5.1 gitops-engine/pkg/sync/sync_context.go: Sync",
               "v3.5.1 docs/operator-manual/upgrading/1.7-1.8.md")),
)


# -- Argo CD's rules, as the behaviours above say -------------------------------------------------

ORDER = ["Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"]
"""gitops-engine pkg/health/health.go: healthOrder (IsWorse)."""

ANNOTATIONS_LIMIT = 262144
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def worse(a: str, b: str) -> str:
    return max(a, b, key=ORDER.index)


def seconds(text: str) -> float:
    """A Go duration ("30s", "5m", "1h30m") or a bare number of seconds."""
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
        return cls(int(retry.get("limit", 0)), seconds(backoff.get("duration", "5s")),
                   float(backoff.get("factor", 2)), seconds(backoff.get("maxDuration", "3m")))

    def next_wait(self) -> float | None:
        """Seconds before the next attempt, None once the limit is spent (a limit below 0 never is)."""
        if self.limit >= 0 and self.attempts >= self.limit:
            return None
        wait = self.duration * self.factor ** min(self.attempts, 64)
        self.attempts += 1
        return min(wait, self.cap) if self.cap > 0 else wait


def _glob(pattern: str, value: str, separator: str = "") -> bool:
    """gobwas/glob as AppProject uses it: `*` stops at the separator, `**` does not; `!` negates."""
    if pattern.startswith("!"):
        return not _glob(pattern[1:], value, separator)
    return pattern == "*" or _glob_regex(pattern, separator).fullmatch(value) is not None


@functools.cache
def _glob_regex(pattern: str, separator: str) -> re.Pattern[str]:
    any_char = f"[^{re.escape(separator)}]" if separator else "."
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    return re.compile("".join({"**": ".*", "*": f"{any_char}*", "?": any_char}.get(part, re.escape(part))
                              for part in parts), re.DOTALL)


def normalize_git_url(url: str) -> str:
    """util/git/git.go: NormalizeGitURL (lower case, scp-style ssh to a path, no .git suffix)."""
    url = url.strip().lower()
    if "://" not in url and re.match(r"^[\w.-]+@[\w.-]+:", url):
        url = url.replace(":", "/", 1)
    return url.removesuffix(".git").removeprefix("ssh://")


@dataclass
class Project:
    source_repos: list[str]
    destinations: list[tuple[str, str]]
    cluster_allow: list[tuple[str, str]]
    cluster_deny: list[tuple[str, str]]
    namespaced_allow: list[tuple[str, str]] | None
    namespaced_deny: list[tuple[str, str]]
    named: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """Destinations by cluster name (name pattern, namespace pattern); `destinations` are by server."""

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Project:
        spec = obj.get("spec") or {}

        def kinds(name: str) -> list[tuple[str, str]]:
            return [(str(k.get("group", "")), str(k.get("kind", ""))) for k in spec.get(name) or []]

        return cls([str(repo) for repo in spec.get("sourceRepos") or []],
                   [(str(d.get("server", "")), str(d.get("namespace", ""))) for d in spec.get("destinations") or []],
                   kinds("clusterResourceWhitelist"), kinds("clusterResourceBlacklist"),
                   kinds("namespaceResourceWhitelist") if spec.get("namespaceResourceWhitelist") is not None else None,
                   kinds("namespaceResourceBlacklist"),
                   [(str(d["name"]), str(d.get("namespace", "")))
                    for d in spec.get("destinations") or [] if d.get("name")])

    def source_ok(self, repo: str) -> bool:
        """IsSourcePermitted: one pattern matches and no deny pattern (`!...`) refuses it."""
        matched = False
        for pattern in self.source_repos:
            deny = pattern.startswith("!")
            normalized = ("!" if deny else "") + normalize_git_url(pattern.removeprefix("!"))
            if _glob(normalized, normalize_git_url(repo), "/"):
                matched = True
            elif deny:
                return False
        return matched

    def destination_ok(self, server: str, namespace: str, name: str = "") -> bool:
        """isDestinationMatched: the resolved cluster's server or its name matches (app_project_types.go, the same
        in v2.14.11 and v3.5.1); an empty pattern matches only an empty namespace."""
        def namespace_ok(pattern: str) -> bool:
            return _glob(pattern, namespace) if pattern else namespace == ""

        return any(_glob(s, server) and namespace_ok(n) for s, n in self.destinations) or any(
            bool(name) and _glob(c, name) and namespace_ok(n) for c, n in self.named)

    def kind_ok(self, group: str, kind: str, namespaced: bool) -> bool:
        """IsGroupKindNamePermitted."""
        def listed(entries: list[tuple[str, str]]) -> bool:
            return any(_glob(g, group) and _glob(k, kind) for g, k in entries)

        if namespaced:
            allowed = self.namespaced_allow is None or listed(self.namespaced_allow)
            return allowed and not listed(self.namespaced_deny)
        return listed(self.cluster_allow) and not listed(self.cluster_deny)


def crd_live(name: str, established: bool) -> dict[str, Any]:
    """A CustomResourceDefinition as the API server shows it (Established once it serves the kind)."""
    conditions = [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name}, "status": {"conditions": conditions if established else []}}


def last_applied_too_large(objects: list[dict[str, Any]], sizes: dict[str, int] | None = None) -> str:
    """The first object client-side apply cannot store: its annotations with the last-applied JSON pass the limit.

    `sizes`: the JSON size of declared objects known by name only (renderer/simulate/opaque.py)."""
    for obj in objects:
        metadata = obj.get("metadata") or {}
        annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
        if "ServerSideApply=true" in annotations.get("argocd.argoproj.io/sync-options", ""):
            continue
        stored = len(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())
        stored = max(stored, (sizes or {}).get(str(metadata.get("name")), 0))
        size = sum(len(k) + len(v.encode()) for k, v in annotations.items()) + len(LAST_APPLIED) + stored
        if size > ANNOTATIONS_LIMIT:
            return (f"{obj.get('kind')} {metadata.get('name')}: metadata.annotations: Too long: must have at most "
                    f"{ANNOTATIONS_LIMIT} bytes ({size} with the last-applied configuration; ServerSideApply=true "
                    "writes none)")
    return ""


def _differs(config: Any, live: Any) -> bool:
    """RemoveMapFields then a merge patch: live fields config lacks are dropped, item by item in lists."""
    if isinstance(config, dict):
        return not isinstance(live, dict) or any(
            _differs(value, live[key]) if key in live else value is not None for key, value in config.items())
    if isinstance(config, list):
        return not isinstance(live, list) or len(config) != len(live) or any(
            _differs(c, item) for c, item in zip(config, live, strict=True))
    if isinstance(config, bool) or isinstance(live, bool):
        return config is not live
    return bool(config != live)


def _without(obj: Any, pointer: str) -> Any:
    """`obj` without the JSON pointer's target (RFC 6901), as ignoreDifferences' jsonPointers drop it."""
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    if not parts:
        return obj
    head, rest = parts[0], "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts[1:])
    if isinstance(obj, dict) and head in obj:
        return {k: v for k, v in obj.items() if k != head} if len(parts) == 1 else {
            **obj, head: _without(obj[head], rest)}
    if isinstance(obj, list) and head.isdigit() and int(head) < len(obj):
        index = int(head)
        return obj[:index] + obj[index + 1:] if len(parts) == 1 else [
            *obj[:index], _without(obj[index], rest), *obj[index + 1:]]
    return obj


def ignored_pointers(app: dict[str, Any], obj: dict[str, Any]) -> list[str]:
    """The jsonPointers of the app's ignoreDifferences that match `obj` (group, kind, name, namespace)."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    metadata = obj.get("metadata") or {}
    pointers = []
    for rule in (app.get("spec") or {}).get("ignoreDifferences") or []:
        if (str(rule.get("group", "")) == group and rule.get("kind") == obj.get("kind")
                and rule.get("name", metadata.get("name")) == metadata.get("name")
                and rule.get("namespace", metadata.get("namespace")) == metadata.get("namespace")):
            pointers += [str(pointer) for pointer in rule.get("jsonPointers") or []]
    return pointers


def drift(config: dict[str, Any], live: dict[str, Any] | None, app: dict[str, Any] | None = None) -> str:
    """What Argo CD's diff finds between an applied object and what the server keeps; empty for none.

    The app's compare options count: ServerSideDiff=true compares the server's dry run of the object (the
    form it keeps) with itself (controller/state.go), ignoreDifferences drops its jsonPointers from both
    sides (util/argo/normalizers/diff_normalizer.go)."""
    app = app or {}
    options = str(((app.get("metadata") or {}).get("annotations") or {}).get(
        "argocd.argoproj.io/compare-options", ""))
    if live is None or "ServerSideDiff=true" in options:
        return ""
    for pointer in ignored_pointers(app, config):
        config, live = _without(config, pointer), _without(live, pointer)
    for field in sorted(set(config) - {"metadata", "status"}):
        if _differs(config[field], live.get(field)):
            return (f"{config.get('kind')} {(config.get('metadata') or {}).get('name')}: the API server keeps "
                    f"{field} in another form than the tree ({json.dumps(live.get(field), sort_keys=True)[:160]})")
    return ""


# -- engine: both -------------------------------------------------------------------------------------


class _Turns:
    """Lets several engine loops share one cluster clock: each runs until it waits (`advance`), then the one
    due first goes on. One runs at a time, so a play is as deterministic as each engine alone."""

    def __init__(self, cluster: Any, names: list[str]) -> None:
        self.cluster = cluster
        self.due = {name: cluster.now for name in names}
        self.turn = names[0]
        self.condition = threading.Condition()

    def wait(self, name: str, until: float | None) -> None:
        """`name` stops until `until` (None: it has finished); the next one due runs."""
        with self.condition:
            if until is None:
                del self.due[name]
            else:
                self.due[name] = until
            if self.due:
                following = min(self.due, key=lambda other: (self.due[other], list(self.due).index(other)))
                if self.due[following] > self.cluster.now:
                    self.cluster.advance(self.due[following])
                self.turn = following
            self.condition.notify_all()
            if until is not None:
                self.condition.wait_for(lambda: self.turn == name)


class _Shared:
    """The cluster as one engine sees it: everything but the clock, which it moves through _Turns."""

    def __init__(self, cluster: Any, turns: _Turns, name: str) -> None:
        self._cluster, self._turns, self._name = cluster, turns, name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._cluster, attribute)

    def advance(self, to: float) -> None:
        self._turns.wait(self._name, to)


def together(cluster: Any, players: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """Play several engines on one cluster at once: {name: what its loop returned}."""
    names = list(players)
    turns = _Turns(cluster, names)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def play(name: str) -> None:
        with turns.condition:
            turns.condition.wait_for(lambda: turns.turn == name)
        try:
            results[name] = players[name](_Shared(cluster, turns, name))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
        finally:
            turns.wait(name, None)

    threads = [threading.Thread(target=play, args=(name,), daemon=True) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
