"""What an engine gets when it builds a path of the rendered tree, and what applying it does.

Local files are parsed back as they were rendered. Remote manifests and Helm charts cannot be read
offline: applying them grants what the stage model says they carry (renderer/model/stages.py `provides`,
e.g. the operator's CRDs), the CRDs after they are Established.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from renderer import yamlio
from renderer.model.stages import Stage
from renderer.simulate.cluster import CRD_ESTABLISH_SECONDS, ApplyError, Cluster


@dataclass
class Content:
    stage: Stage | None
    objects: list[dict[str, Any]] = field(default_factory=list)
    opaque: bool = False
    """Remote manifests or a Helm chart: only the stage's declared facts are known."""
    outside_root: list[str] = field(default_factory=list)
    """Files listed from outside the kustomization root (Argo CD refuses them: LoadRestrictionsRootOnly)."""
    encrypted: bool = False


_PARSED: dict[str, list[dict[str, Any]]] = {}


def seed(tree: dict[str, str], parsed: dict[str, tuple[dict[str, Any], ...]]) -> None:
    """Reuse what the check stage parsed (renderer/check/__init__.py: parsed)."""
    for path, objects in parsed.items():
        if objects and path in tree:
            _PARSED[tree[path]] = list(objects)


def objects_of(tree: dict[str, str], path: str) -> list[dict[str, Any]]:
    """The objects of one rendered file (parsed once per text; callers never mutate them)."""
    text = tree[path]
    found = _PARSED.get(text)
    if found is None:
        if len(_PARSED) > 5_000:
            _PARSED.clear()
        found = _PARSED[text] = [doc for doc in yamlio.parse_output(text) if isinstance(doc, dict)]
    return found


def build(tree: dict[str, str], directory: str, stage: Stage | None) -> Content:
    """The kustomize build of `directory` (relative to the cluster's tree), as far as it can be known."""
    content = Content(stage)
    root = f"{directory}/kustomization.yaml"
    if root not in tree:
        raise ApplyError(f"{directory}: no kustomization.yaml")
    (kustomization,) = objects_of(tree, root)
    for resource in kustomization.get("resources", []):
        if "://" in resource:
            content.opaque = True
            continue
        path = posixpath.normpath(posixpath.join(directory, resource))
        if path.startswith("..") or not path.startswith(directory):
            if not resource.endswith((".yaml", ".yml", ".json")):
                # Another kustomization directory (vendored manifests): kustomize's LoadRestrictionsRootOnly
                # allows those (api/internal/loader/fileloader.go: FileLoader.New); its content is the
                # stage's declared content, as for a remote URL.
                content.opaque = True
                continue
            content.outside_root.append(resource)
            content.encrypted = content.encrypted or bool(stage and stage.sops)
            continue
        if f"{path}/kustomization.yaml" in tree:
            nested = build(tree, path, stage)
            content.objects += nested.objects
            content.opaque = content.opaque or nested.opaque
            continue
        content.objects += objects_of(tree, path)
    if kustomization.get("helmCharts"):
        content.opaque = True
    return content


def apply(cluster: Cluster, content: Content) -> None:
    """Apply in the order engines use (namespaces and CRDs first); the first refusal stops it."""
    ordered = sorted(content.objects, key=lambda obj: 0 if obj.get("kind") in ("Namespace",) else 1)
    for obj in ordered:
        cluster.apply(obj)
    if content.stage is not None and (content.opaque or content.encrypted):
        for fact in content.stage.provides:
            if fact == "license":
                cluster.check({"apiVersion": "projectcalico.org/v3", "kind": "LicenseKey",
                               "metadata": {"name": "default"}})
            cluster.grant(fact, CRD_ESTABLISH_SECONDS if fact.startswith("crds:") else 0)
        cluster.log.append(f"{cluster.now:7.0f}s applied {content.stage.directory} (remote or chart content)")
