"""Check stage: parse every rendered file back and validate each object before anything is written.

Core kinds against the cluster's Kubernetes version, custom kinds against schemas derived
from the upstream CRDs of the exact releases rendered. A kind with no schema is an error;
an invalid object is a bug in a template (exit 3), never a silent skip.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from renderer import crdcheck, kubecheck, leaks, yamlio
from renderer.errors import Problem, TemplateError
from renderer.model import Model
from renderer.render import Tree

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


def _object_problems(obj: dict[str, Any], model: Model) -> list[str]:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    if _NOT_OBJECTS.get(api_version) == kind:
        return []
    if _is_core(api_version):
        try:
            return kubecheck.problems(obj, model.kubernetes_minor)
        except kubecheck.UnknownKind as exc:
            return [f"(root): {exc}"]
    try:
        return crdcheck.custom_object_problems(obj, model.values["tigera"]["version"])
    except crdcheck.SchemaMissing as exc:
        return [f"(root): {exc}"]


def check(tree: Tree, model: Model) -> Counter[str]:
    """Validate the tree; return how many objects of each kind were checked."""
    problems: list[Problem] = []
    counts: Counter[str] = Counter()
    for path, text in tree.items():
        problems.extend(Problem(path, 0, 0, "", finding) for finding in leaks.scan_text(path, text))
        if not path.endswith((".yaml", ".yml")):
            continue
        for obj in parse_objects(path, text):
            name = (obj.get("metadata") or {}).get("name", "?") if isinstance(obj.get("metadata"), dict) else "?"
            subject = f"{obj.get('kind', '?')} {name}"
            for finding in _object_problems(obj, model):
                problems.append(Problem(path, 0, 0, subject, finding))
            problems.extend(Problem(path, 0, 0, subject, finding) for finding in leaks.scan_object(obj))
            if _NOT_OBJECTS.get(str(obj.get("apiVersion"))) != obj.get("kind"):
                counts[f"{obj.get('apiVersion')} {obj.get('kind')}"] += 1
    if problems:
        raise TemplateError(problems)
    return counts
