"""Check stage: parse every rendered file back and validate each object before anything is written.

Core kinds against the cluster's Kubernetes version, custom kinds against schemas derived
from the upstream CRDs of the exact releases rendered. A kind with no schema is an error;
an invalid object is a bug in a template (exit 3), never a silent skip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from renderer import leaks, yamlio
from renderer.cache.memo import Memo
from renderer.check import crds, kube
from renderer.errors import Problem, TemplateError
from renderer.model import Model
from renderer.render.tree import Tree

_NOT_OBJECTS = {"kustomize.config.k8s.io/v1beta1": "Kustomization"}


def parse_objects(path: str, text: str) -> list[dict[str, Any]]:
    try:
        documents = yamlio.parse_output(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a template bug to report
        message = f"rendered YAML does not parse: {str(exc).splitlines()[0]}"
        raise TemplateError(Problem(path, 0, 0, "", message)) from None
    objects = [doc for doc in documents if doc is not None]
    for doc in objects:
        if not isinstance(doc, dict):
            raise TemplateError(Problem(path, 0, 0, "", "rendered document is not a mapping"))
    return objects


def _is_core(api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _object_problems(obj: dict[str, Any], kubernetes_minor: str, tigera_version: str) -> list[str]:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if _NOT_OBJECTS.get(api_version) == kind:
        return []
    if _is_core(api_version):
        try:
            return kube.problems(obj, kubernetes_minor)
        except kube.UnknownKind as exc:
            return [f"(root): {exc}"]
    try:
        return crds.custom_object_problems(obj, tigera_version)
    except crds.SchemaMissing as exc:
        return [f"(root): {exc}"]


@dataclass(frozen=True)
class FileCheck:
    """What checking one file found: a parse error, or (subject, finding) pairs and the kinds seen."""

    error: str
    findings: tuple[tuple[str, str], ...]
    kinds: tuple[str, ...]
    objects: tuple[dict[str, Any], ...] = ()
    """The parsed documents (read-only), so the simulator need not parse the file again."""


_MEMO: Memo[FileCheck] = Memo()
"""Keyed by the exact text and every other input of check_file: identical files are checked once.
The schemas are the process's own, read once, as kube.validator and crds._validator assume."""


def check_file(text: str, is_yaml: bool, kubernetes_minor: str, tigera_version: str,
               paths: tuple[str, ...] = ()) -> FileCheck:
    """Leak-scan one file and, for YAML, parse it back and validate every object (memoised).

    Keyed by the paths that `_without_paths` really cuts from this text, not by all of them: the
    cluster's own gitops.path is in every cluster's list, so a file that does not name it (a health
    check, a kustomization) is checked once per fleet instead of once per cluster."""
    _, cut = _without_paths(text, paths)
    key = (text, is_yaml, kubernetes_minor, tigera_version, cut)
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO.put(key, _check_file(text, is_yaml, kubernetes_minor, tigera_version, cut), len(text))
    return found


def _without_paths(text: str, paths: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`text` with each repository path the renderer composed (see repository_paths) cut to one character, for
    the leak scan: `Clusters/Production2024/ceosks-poc/03-tigera-operator` or a vendored directory under
    `clusters/EU-West/` reads as one 50-character mixed-case token, and a valid value then ended in an
    internal error. The values in them were scanned where set (renderer/validate/refusals.py).

    Also returns the paths that cut something, longest first: cutting only those gives the same text (a
    path absent at its turn changes nothing, so dropping it changes no later turn)."""
    cut = []
    for path in sorted(paths, key=len, reverse=True):
        if path in text:
            text = text.replace(path, "p")
            cut.append(path)
    return text, tuple(cut)


def repository_paths(model: Model, vendored: Iterable[str] = ()) -> tuple[str, ...]:
    """The repository paths a tree names that come from values or the values' location, not from templates:
    gitops.path (Argo CD and Flux paths start with it) and the vendored directories stages name."""
    return tuple(sorted({path for path in (model.values.gitops.path, *vendored) if path}))


def _check_file(text: str, is_yaml: bool, kubernetes_minor: str, tigera_version: str,
                paths: tuple[str, ...] = ()) -> FileCheck:
    findings = [("", finding) for finding in leaks.scan_text("", _without_paths(text, paths)[0])]
    kinds: list[str] = []
    objects: list[dict[str, Any]] = []
    if is_yaml:
        try:
            objects = parse_objects("", text)
        except TemplateError as exc:
            return FileCheck(exc.problems[0].message, (), ())
        for obj in objects:
            name = (obj.get("metadata") or {}).get("name", "?") if isinstance(obj.get("metadata"), dict) else "?"
            subject = f"{obj.get('kind', '?')} {name}"
            findings.extend((subject, finding) for finding in _object_problems(obj, kubernetes_minor, tigera_version))
            findings.extend((subject, finding) for finding in leaks.scan_object(obj))
            if _NOT_OBJECTS.get(str(obj.get("apiVersion"))) != obj.get("kind"):
                kinds.append(f"{obj.get('apiVersion')} {obj.get('kind')}")
    return FileCheck("", tuple(findings), tuple(kinds), tuple(objects) if is_yaml else ())


def data_files(kubernetes_minor: str, kinds: Iterable[str]) -> tuple[str, ...]:
    """The installed files checking objects of `kinds` (as check() counts them) reads: keyed by content in
    every cached answer (renderer.cache.inputs), as the files of the repository are."""
    core = sorted({tuple(kind.split(" ", 1)) for kind in kinds if _is_core(kind.split(" ", 1)[0])})
    paths = [kube.definitions_file(kubernetes_minor),
             *(kube.schema_file(kubernetes_minor, api_version, kind) for api_version, kind in core)]
    return tuple(str(path) for path in paths)


def check(tree: Tree, model: Model, vendored: Iterable[str] = ()) -> Counter[str]:
    """Validate the tree; return how many objects of each kind were checked. `vendored`: the directories
    the stages name instead of remote URLs (renderer/remote/vendor.py)."""
    return check_texts(tree, model.kubernetes_minor, model.values.tigera.version, repository_paths(model, vendored))


def check_texts(tree: Tree, kubernetes_minor: str, tigera_version: str, paths: tuple[str, ...]) -> Counter[str]:
    """check() from what it reads of the model (a hub tree is checked without one: renderer/render/hub.py)."""
    problems: list[Problem] = []
    counts: Counter[str] = Counter()
    for path, text in tree.items():
        result = check_file(text, path.endswith((".yaml", ".yml")), kubernetes_minor, tigera_version, paths)
        if result.error:
            raise TemplateError(Problem(path, 0, 0, "", result.error))
        problems.extend(Problem(path, 0, 0, subject, finding) for subject, finding in result.findings)
        counts.update(result.kinds)
    if problems:
        raise TemplateError(problems)
    return counts


def parsed(tree: Tree, model: Model, vendored: Iterable[str] = ()) -> dict[str, tuple[dict[str, Any], ...]]:
    """The objects of every YAML file of a checked tree, from the memo check() filled (same arguments)."""
    tigera_version = model.values.tigera.version
    paths = repository_paths(model, vendored)
    return {path: check_file(text, True, model.kubernetes_minor, tigera_version, paths).objects
            for path, text in tree.items() if path.endswith((".yaml", ".yml"))}
