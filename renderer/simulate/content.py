"""What an engine gets when it builds a path of the rendered tree, and what applying it does.

Local files are parsed back as they are on disk (or as rendered). Remote manifests, Helm charts and
SOPS files cannot be read offline: applying them applies the objects renderer/simulate/opaque.py
declares for them, found by the reference the tree itself holds (URL, vendored directory, chart
name); what follows (namespaces, CRDs Established) comes from those objects, never from what a
stage declares it provides.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from renderer import yamlio
from renderer.model.stages import Stage
from renderer.simulate import opaque
from renderer.simulate.cluster import ApplyError, Cluster, Key, key_of


@dataclass
class Content:
    stage: Stage | None
    objects: list[dict[str, Any]] = field(default_factory=list)
    opaque: bool = False
    """Remote manifests or a Helm chart: only the stage's declared facts are known."""
    outside_root: list[str] = field(default_factory=list)
    """Files listed from outside the kustomization root (Argo CD refuses them: LoadRestrictionsRootOnly)."""
    encrypted: bool = False
    remote: list[tuple[str, str]] = field(default_factory=list)
    """(reference, release namespace) of each opaque part: a URL, a vendored directory, `chart:<name>`."""
    files: dict[Key, str] = field(default_factory=dict)
    """Where each local object comes from (path relative to the cluster's tree)."""
    origin: str = ""
    """The file that references the opaque parts (a kustomization.yaml, a HelmRelease)."""


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
    root = f"{directory}/kustomization.yaml"
    content = Content(stage, origin=root)
    if root not in tree:
        raise ApplyError(f"{directory}: no kustomization.yaml")
    try:
        (kustomization,) = objects_of(tree, root)
    except Exception as exc:  # noqa: BLE001
        raise ApplyError(f"kustomize build {directory}: kustomization.yaml is not one YAML mapping: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__} (file {root})") from None
    for resource in kustomization.get("resources", []):
        if "://" in resource:  # its namespace-less objects land in the kustomization's namespace
            content.opaque = True
            content.remote.append((resource, str(kustomization.get("namespace", ""))))
            continue
        path = posixpath.normpath(posixpath.join(directory, resource))
        if path.startswith("..") or not path.startswith(directory):
            if not resource.endswith((".yaml", ".yml", ".json")):
                # Another kustomization directory (vendored manifests): kustomize's LoadRestrictionsRootOnly
                # allows those (api/internal/loader/fileloader.go: FileLoader.New); its content is the
                # stage's declared content, as for a remote URL.
                content.opaque = True
                content.remote.append((resource, str(kustomization.get("namespace", ""))))
                continue
            content.outside_root.append(resource)
            if path not in tree:  # a repository file outside the tree: a SOPS file (stage 07-license)
                content.encrypted = True
                content.remote.append((resource, ""))
            continue
        if f"{path}/kustomization.yaml" in tree:
            nested = build(tree, path, stage)
            content.objects += nested.objects
            content.opaque = content.opaque or nested.opaque
            content.remote += nested.remote
            content.files.update(nested.files)
            continue
        if path not in tree:
            raise ApplyError(f"kustomize build {directory}: accumulating resources: '{resource}': no such file "
                             f"(file {root})")
        try:
            found = objects_of(tree, path)
        except Exception as exc:  # noqa: BLE001 - whatever the parser says, the build fails on this file
            raise ApplyError(f"kustomize build {directory}: {resource} does not parse as YAML: "
                             f"{str(exc).splitlines()[0]} (file {path})") from None
        content.objects += found
        content.files.update({key_of(obj): path for obj in found})
    for chart in kustomization.get("helmCharts") or []:
        content.opaque = True
        content.remote.append((f"chart:{chart.get('name', '')}", str(chart.get("namespace", ""))))
    return content


def chart(name: str, namespace: str, stage: Stage | None = None, origin: str = "") -> Content:
    """A Helm chart an engine renders itself (Argo CD `source.chart`, a Flux HelmRelease in `origin`)."""
    return Content(stage, opaque=True, remote=[(f"chart:{name}", namespace)], origin=origin)


def declared(content: Content) -> list[dict[str, Any]]:
    remote = list(content.remote)
    if content.opaque and not remote and content.stage is not None and content.stage.helm_chart:
        # Argo CD's chart source arrives without its reference (simulate/argocd.py builds Content(stage)).
        chart_ = content.stage.helm_chart
        remote.append((f"chart:{chart_['name']}", str(chart_.get("namespace", ""))))
    found = []
    for reference, namespace in remote:
        try:
            found += opaque.objects(reference, namespace)
        except opaque.Unknown:
            raise ApplyError(f"{reference}: remote content nothing declares (renderer/simulate/opaque.py); "
                             "the simulator cannot tell what it creates") from None
    return found


_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}


def apply(cluster: Cluster, content: Content) -> None:
    """Apply in the order engines use (namespaces and CRDs first); the first refusal stops it.

    kustomize's legacy order, Argo CD's sync phases and Flux's ApplyAllStaged all put Namespaces and
    CRDs first (sigs.k8s.io/kustomize api/resid/gvk.go orderFirst; fluxcd/pkg ssa/manager_apply.go)."""
    everything = [*content.objects, *declared(content)]
    ordered = sorted(everything, key=lambda obj: _FIRST.get(str(obj.get("kind", "")), 2))
    for obj in ordered:
        cluster.apply(obj, content.files.get(key_of(obj), content.origin))
