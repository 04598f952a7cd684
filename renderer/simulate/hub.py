"""Hub delivery: the hub's Argo CD turns the hub tree and the cluster's tree in git into the apps it plays.

Read from the rendered objects, as the hub would: the bootstrap script's STEPS table must register the
cluster (`hub-register`) and apply the hub tree (`hub-apply`); the hub tree's ApplicationSet, in the
hub's Argo CD namespace, must find this cluster's marker file among the files of the repository
(its git files generator's path, as `git ls-files` matches it) and generate from it a root
Application whose project exists on the hub, which deploys to the hub itself and syncs this cluster's
argocd/apps. The result is the tree the Argo CD plays of renderer/simulate/argocd.py read: the
cluster's tree, plus the generated root, the hub's health checks and the root's project; the child
Applications then resolve `destination.name` against the registered clusters (destination.py).
The generator, template and project rules read at v3.5.1 are the same at v2.14.11 (the oldest version of
the table in engines.py), so every version plays the same hub.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from typing import Any

from renderer import yamlio
from renderer.model import Model
from renderer.model import hub as hub_
from renderer.simulate import bootstrap
from renderer.simulate import content as content_
from renderer.simulate.engines import normalize_git_url
from renderer.simulate.outcome import Outcome

REGISTER_STEP = hub_.REGISTER_STEP
APPLY_STEP = hub_.APPLY_STEP

DELIVERIES = ("bootstrap, then argocd", "argocd (from a running pod network)")
"""The plays of renderer/simulate/__init__.py, each stuck the same way when the hub never creates the root."""


def hub_dir(model: Model) -> str:
    """The hub tree's directory relative to the cluster tree (OUT/<cluster>/../_hubs/<hub.name>)."""
    hub = model.values.gitops.hub
    assert hub is not None
    return f"../{hub_.HUBS_DIR}/{hub.name}"


class Stuck(Exception):
    """The hub never creates this cluster's root Application: why, and the file at fault."""

    def __init__(self, reason: str, file: str) -> None:
        super().__init__(f"{reason} (file {file})")


def view(model: Model, tree: dict[str, str], hub_tree: dict[str, str], repo_files: set[str]
         ) -> tuple[dict[str, str], list[Outcome]]:
    """The tree the hub's Argo CD plays for this cluster, or (without one) a stuck Outcome per delivery."""
    try:
        return _view(model, tree, hub_tree, repo_files), []
    except Stuck as exc:
        problem = str(exc)
        file = problem[problem.rindex(" (file ") + 7:-1]
        reason = problem[:problem.rindex(" (file ")]
        return tree, [Outcome(delivery, False, 0.0, [problem], [], (file, "-", reason)) for delivery in DELIVERIES]


def _view(model: Model, tree: dict[str, str], hub_tree: dict[str, str], repo_files: set[str]) -> dict[str, str]:
    hub = model.values.gitops.hub
    assert hub is not None
    _bootstrap_steps(model, tree)
    where = hub_dir(model)
    objects = _hub_objects(hub_tree, where)
    appset_file, root = _generated_root(model, tree, objects, repo_files)
    projects = {str(obj["metadata"].get("name")): obj for _, obj in objects
                if obj.get("kind") == "AppProject" and (obj.get("metadata") or {}).get("namespace") == hub.namespace}
    project = projects.get(str(root["spec"].get("project")))
    if project is None:  # applicationset_controller.go: validateGeneratedApplications
        raise Stuck(f"{root['metadata']['name']}: application references project {root['spec'].get('project')} "
                    f"which does not exist (in namespace {hub.namespace} of the hub)", appset_file)
    _root_target(model, tree, root, appset_file)
    _children_on_the_hub(tree, hub.namespace)
    # The root as argocd.py reads it: its destination, checked above to be the hub, by the hub's address; and,
    # for --verify's report, in the ApplicationSet's file (which sorts first): that is where it comes from.
    root = {**root, "spec": {**root["spec"], "destination": {
        "server": hub_.IN_CLUSTER, "namespace": (root["spec"].get("destination") or {}).get("namespace", "")}}}
    view = {**tree, **{f"{where}/{file}": text for file, text in hub_tree.items()},
            "argocd/root-application.yaml": yamlio.dump(root), "argocd/root-project.yaml": yamlio.dump(project)}
    view[appset_file] += "---\n" + yamlio.dump(root)
    health = [file for file, obj in objects if obj.get("kind") == "ConfigMap" and
              obj["metadata"].get("name") == "argocd-cm" and obj["metadata"].get("namespace") == hub.namespace]
    if health:  # without it, argocd.py reports the missing Application health check
        view["argocd/argocd-cm-health.yaml"] = hub_tree[health[0]]
    return view


def _bootstrap_steps(model: Model, tree: dict[str, str]) -> None:
    """The registration and the hub tree come from the bootstrap script's STEPS table, as it is on disk."""
    hub = model.values.gitops.hub
    assert hub is not None
    steps = {name for name, _ in bootstrap.steps_on_disk(tree.get("bootstrap.sh", "")) or []}
    if REGISTER_STEP not in steps:
        raise Stuck(f"cluster {model.cluster} never registered with hub {hub.name}: bootstrap.sh has no "
                    f"{REGISTER_STEP} step, so no Argo CD cluster Secret names {hub.clusterName}", "bootstrap.sh")
    if APPLY_STEP not in steps:
        raise Stuck(f"the hub tree never reaches hub {hub.name}: bootstrap.sh has no {APPLY_STEP} step",
                    "bootstrap.sh")


def _generated_root(model: Model, tree: dict[str, str], objects: list[tuple[str, dict[str, Any]]],
                    repo_files: set[str]) -> tuple[str, dict[str, Any]]:
    """(the ApplicationSet's file, the root Application it generates from this cluster's marker file)."""
    hub = model.values.gitops.hub
    assert hub is not None
    where = hub_dir(model)
    appsets = [(file, obj) for file, obj in objects if obj.get("kind") == "ApplicationSet"]
    if not appsets:
        raise Stuck(f"no ApplicationSet in the hub tree of {hub.name}", f"{where}/kustomization.yaml")
    own = sorted(file for file in repo_files if file.split("/")[-3:] == [model.cluster, *hub_.marker(hub).split("/")])
    if not own or hub_.marker(hub) not in tree:
        raise Stuck(f"this cluster's tree has no {hub_.marker(hub)} in the repository, the file the hub's "
                    "ApplicationSet generates its root Application from", hub_.marker(hub))
    refusals = []
    for file, appset in appsets:
        found = _generate(model, tree, appset, own[0], hub.namespace)
        if not isinstance(found, str):
            return f"{where}/{file}", found
        refusals.append((f"{where}/{file}", found))
    file, reason = refusals[0]
    raise Stuck(reason, file)


def _children_on_the_hub(tree: dict[str, str], namespace: str) -> None:
    """The root's objects stay in the hub's Argo CD namespace: an Application or AppProject elsewhere is never
    reconciled (argo-cd v3.5.1 docs/operator-manual/app-any-namespace.md: others only with --application-namespaces)."""
    for listed in content_.objects_of(tree, "argocd/apps/kustomization.yaml")[0].get("resources") or []:
        for obj in content_.objects_of(tree, f"argocd/apps/{listed}"):
            found = (obj.get("metadata") or {}).get("namespace")
            if obj.get("kind") in ("Application", "AppProject") and found not in (None, namespace):
                raise Stuck(f"{obj.get('kind')} {obj['metadata'].get('name')} lives in namespace {found}; the hub's "
                            f"Argo CD reads its own namespace {namespace} only", f"argocd/apps/{listed}")


def repository_files(model: Model, tree: dict[str, str], tree_path: str | None = None) -> set[str]:
    """This cluster's files as the repository holds them, at `tree_path` (default: gitops.path)."""
    base = _tree_path(model) if tree_path is None else tree_path
    return {posixpath.join(base, file) for file in tree}


def _parse(files: dict[str, str], file: str) -> list[dict[str, Any]]:
    try:
        return content_.objects_of(files, file)
    except Exception:  # noqa: BLE001 - a file that does not parse holds nothing the hub applies
        return []


def _hub_objects(hub_tree: dict[str, str], where: str) -> list[tuple[str, dict[str, Any]]]:
    """What `kubectl apply -k` of the hub tree applies: the files its kustomization.yaml lists."""
    if "kustomization.yaml" not in hub_tree:
        raise Stuck("the hub tree has no kustomization.yaml (render the fleet to write it)",
                    f"{where}/kustomization.yaml")
    listed = (_parse(hub_tree, "kustomization.yaml") or [{}])[0].get("resources") or []
    found = []
    for file in listed:
        if str(file) not in hub_tree:
            raise Stuck(f"kustomization.yaml lists {file}, which is not in the hub tree", f"{where}/kustomization.yaml")
        found += [(str(file), obj) for obj in _parse(hub_tree, str(file))]
    return found


def _tree_path(model: Model) -> str:
    return model.values.gitops.path.rstrip("/")


def _generate(model: Model, tree: dict[str, str], appset: dict[str, Any], marker_file: str,
              namespace: str) -> dict[str, Any] | str:
    """The root Application `appset` generates for this cluster, or why it generates none."""
    name = str((appset.get("metadata") or {}).get("name", "?"))
    if (appset.get("metadata") or {}).get("namespace") != namespace:
        return (f"ApplicationSet {name} is not in namespace {namespace}, the only one the hub's ApplicationSet "
                "controller reads")
    spec = appset.get("spec") or {}
    gitops = model.values.gitops
    for generator in spec.get("generators") or []:
        git = (generator or {}).get("git") or {}
        if normalize_git_url(str(git.get("repoURL", ""))) != normalize_git_url(gitops.repoURL) or \
                str(git.get("revision", "")) != gitops.revision:
            continue  # another repository or revision: not where this cluster's tree is committed
        files = git.get("files") or []
        include = [str(item.get("path", "")) for item in files if not item.get("exclude")]
        exclude = [str(item.get("path", "")) for item in files if item.get("exclude")]
        if _matches(marker_file, include) and not _matches(marker_file, exclude):
            return _render_root(spec, tree, marker_file, name)
    paths = [str(item.get("path")) for generator in spec.get("generators") or []
             for item in ((generator or {}).get("git") or {}).get("files") or []]
    return (f"ApplicationSet {name}: no git files generator of {gitops.repoURL} at {gitops.revision} matches "
            f"{marker_file}, this cluster's tree (files generator paths {', '.join(paths) or 'none'}), "
            "so it never generates the cluster's root Application")


def _matches(file: str, patterns: list[str]) -> bool:
    """`git ls-files -- PATTERN` (argo-cd v3.5.1 util/git/client.go: LsFiles, the default globbing): a git
    pathspec without magic is fnmatch without FNM_PATHNAME (gitglossary "pathspec"), so `*` also matches `/`."""
    return any(fnmatch.fnmatchcase(file, pattern) for pattern in patterns if pattern)


def _render_root(spec: dict[str, Any], tree: dict[str, str], marker_file: str, appset: str) -> dict[str, Any] | str:
    """The template with this file's parameters (generators/git.go: generateParamsFromGitFile; goTemplate with
    missingkey=error, or fasttemplate, applicationset/utils/utils.go: Replace)."""
    try:
        params: dict[str, Any] = json.loads(tree["argocd/" + marker_file.rpartition("/argocd/")[2]])
    except (KeyError, ValueError) as exc:
        return f"ApplicationSet {appset}: unable to process file {marker_file}: {exc}"
    if not isinstance(params, dict):
        return f"ApplicationSet {appset}: unable to process file {marker_file}: not a mapping"
    directory = posixpath.dirname(marker_file)
    path = {"path": directory, "basename": posixpath.basename(directory), "filename": posixpath.basename(marker_file),
            "segments": directory.split("/")}
    go = spec.get("goTemplate") is True
    strict = "missingkey=error" in (spec.get("goTemplateOptions") or [])
    flat = {**{key: str(value) for key, value in params.items() if not isinstance(value, (dict, list))},
            "path": directory, "path.basename": path["basename"], "path.filename": path["filename"]}
    try:
        root = _substitute(spec.get("template") or {}, {**params, "path": path} if go else flat, go, strict)
    except KeyError as exc:
        return f"ApplicationSet {appset}: failed to execute go template: map has no entry for key {exc.args[0]}"
    root = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **root}
    name = str((root.get("metadata") or {}).get("name", ""))
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
        return f"ApplicationSet {appset}: generated Application name {name!r} is not a valid object name"
    root.setdefault("spec", {})
    return root


_GO = re.compile(r"\{\{-?\s*([^{}]*?)\s*-?\}\}")


def _substitute(node: Any, params: dict[str, Any], go: bool, strict: bool) -> Any:
    if isinstance(node, dict):
        return {key: _substitute(value, params, go, strict) for key, value in node.items()}
    if isinstance(node, list):
        return [_substitute(value, params, go, strict) for value in node]
    if not isinstance(node, str) or "{{" not in node:
        return node
    return _GO.sub(lambda found: _one(found, params, go, strict), node)


def _one(found: re.Match[str], params: dict[str, Any], go: bool, strict: bool) -> str:
    """One action: `.a.b` field lookups (Go), or a flat key (fasttemplate, left as it is when unknown)."""
    expression = found[1]
    if not go:
        flat = params.get(expression)
        return found[0] if not isinstance(flat, str) else flat
    if not expression.startswith("."):
        raise KeyError(expression)  # a function or pipeline: beyond this model, refused rather than guessed
    value: Any = params
    for part in expression[1:].split("."):
        if not isinstance(value, dict) or part not in value:
            if strict:
                raise KeyError(part)
            return "<no value>"
        value = value[part]
    return str(value)


def _root_target(model: Model, tree: dict[str, str], root: dict[str, Any], appset_file: str) -> None:
    """The generated root deploys to the hub itself and syncs this cluster's argocd/apps from its repository."""
    spec = root.get("spec") or {}
    name = root["metadata"]["name"]
    hub = model.values.gitops.hub
    assert hub is not None
    if root["metadata"].get("namespace") not in (None, hub.namespace):
        raise Stuck(f"{name}: generated into namespace {root['metadata']['namespace']}, not {hub.namespace} where "
                    "the hub's Argo CD reads Applications", appset_file)
    destination = spec.get("destination") or {}
    if not (str(destination.get("server", "")).rstrip("/") == hub_.IN_CLUSTER and not destination.get("name")) \
            and not (destination.get("name") == "in-cluster" and not destination.get("server")):
        raise Stuck(f"{name}: deploys to {destination.get('name') or destination.get('server')}, not to the hub "
                    "itself, where its child Applications must live for the hub's Argo CD to read them", appset_file)
    source = spec.get("source") or {}
    gitops = model.values.gitops
    if normalize_git_url(str(source.get("repoURL", ""))) != normalize_git_url(gitops.repoURL):
        raise Stuck(f"{name}: syncs {source.get('repoURL')}, not {gitops.repoURL} where the tree is", appset_file)
    wanted = f"{_tree_path(model)}/argocd/apps"
    if posixpath.normpath(str(source.get("path", ""))) != wanted or "argocd/apps/kustomization.yaml" not in tree:
        raise Stuck(f"{name}: syncs {source.get('path')}, which holds no argocd/apps of this cluster (wanted "
                    f"{wanted})", appset_file)
