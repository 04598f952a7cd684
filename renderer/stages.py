"""The one ordering model: which stages exist, in what order, and what each needs.

Kustomize directory numbers, Argo CD sync waves, Flux dependsOn chains and the
bootstrap's apply order are all derived from `plan()`; nothing else orders stages.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stage:
    """One apply step and the facts every engine must honour."""

    position: int
    slug: str
    title: str
    delivery: str
    """`git`: a Kustomize root under out/<cluster>/; `bootstrap`: done by the bootstrap script only."""
    namespaces: tuple[str, ...] = ()
    """Namespaces its objects land in (AppProject destinations)."""
    create_namespace: str = ""
    """Namespace the engine must create because the manifests do not."""
    server_side: bool = False
    """Needs server-side apply: CRDs over the 262144-byte last-applied annotation limit."""
    skip_dry_run: bool = False
    """Its kinds exist only after an earlier stage (operator.tigera.io, projectcalico.org/v3)."""
    requires: str = ""
    """What must be ready before it is applied: `crds` or `tigera-apiserver`."""
    provides: str = ""
    """What becomes ready after it: `crds` (CRDs Established) or `tigera-apiserver`."""
    templates: tuple[str, ...] = ()
    remote: tuple[str, ...] = ()
    patches: tuple[dict[str, Any], ...] = ()
    helm_chart: dict[str, Any] = field(default_factory=dict)
    extra_resources: tuple[str, ...] = ()
    """Repository files outside the tree (a SOPS-encrypted license), relative to the stage directory."""
    sops: bool = False

    @property
    def directory(self) -> str:
        return f"{self.position:02d}-{self.slug}"

    @property
    def wave(self) -> int:
        return self.position


PLACEHOLDER_SECRET_PATCH: dict[str, Any] = {
    "target": {"version": "v1", "kind": "Secret", "name": "tigera-pull-secret", "namespace": "tigera-prometheus"},
    "patch": "$patch: delete\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tigera-pull-secret\n"
             "  namespace: tigera-prometheus\n",
}
"""Removes the upstream placeholder pull secret so a sync never overwrites the real one.

The `target` selector makes it a no-op when a release ships no such Secret."""


def longhorn_values(values: dict[str, Any]) -> dict[str, Any]:
    """Chart values shared by the Kustomize helmCharts entry, Argo CD and Flux."""
    replicas = values["longhorn"]["replicas"]
    return {
        "persistence": {"defaultClassReplicaCount": replicas},
        "defaultSettings": {"defaultReplicaCount": replicas},
        "preUpgradeChecker": {"jobEnabled": False},
    }


OPTIONAL_TIGERA_KINDS = {
    "intrusionDetection": "IntrusionDetection", "logCollector": "LogCollector", "logStorage": "LogStorage",
    "manager": "Manager", "monitor": "Monitor", "compliance": "Compliance",
    "policyRecommendation": "PolicyRecommendation",
}


def tigera_kinds(values: dict[str, Any]) -> list[str]:
    """operator.tigera.io kinds the custom-resources stage renders, in template order."""
    enabled = values["tigera"]["customResources"]
    return ["Installation", "APIServer", *(kind for key, kind in OPTIONAL_TIGERA_KINDS.items() if enabled[key])]


def manifest_url(values: dict[str, Any], name: str) -> str:
    tigera = values["tigera"]
    return f"{tigera['manifestsBaseURL'].rstrip('/')}/{tigera['version']}/manifests/{name}"


def plan(values: dict[str, Any]) -> tuple[Stage, ...]:
    """The stages for one cluster, in apply order (positions are fixed, so numbers never shift)."""
    longhorn = values["longhorn"]
    secrets = values["secrets"]
    bypass = values["bypass"]
    pull_by_git = secrets["pullSecret"]["provider"] == "external-secrets"
    license_by_git = secrets["license"]["provider"] == "sops"
    gitops_path = values["gitops"]["path"]
    license_resources: tuple[str, ...] = ()
    if license_by_git:
        stage_dir = posixpath.join(gitops_path, "07-license")
        license_resources = (posixpath.relpath(secrets["license"]["encryptedFile"], stage_dir),)
    return (
        Stage(1, "longhorn", "Longhorn storage", "git", namespaces=(longhorn["namespace"],),
              create_namespace=longhorn["namespace"], server_side=True, provides="crds",
              templates=("namespace.yaml",),
              helm_chart={"name": "longhorn", "repo": longhorn["chartRepository"],
                          "version": longhorn["chartVersion"], "releaseName": "longhorn",
                          "namespace": longhorn["namespace"], "includeCRDs": True,
                          "valuesInline": longhorn_values(values)}),
        Stage(2, "storageclass", "StorageClass tigera-elasticsearch", "git", templates=("storageclass.yaml",)),
        Stage(3, "tigera-operator", "Tigera operator", "git", namespaces=("tigera-operator",),
              server_side=True, provides="crds", remote=(manifest_url(values, "tigera-operator.yaml"),)),
        Stage(4, "tigera-prometheus-operator", "Tigera Prometheus operator", "git",
              namespaces=("tigera-prometheus",), server_side=True, provides="crds",
              remote=(manifest_url(values, "tigera-prometheus-operator.yaml"),),
              patches=(PLACEHOLDER_SECRET_PATCH,)),
        Stage(5, "pull-secrets", "Pull secret tigera-pull-secret", "git" if pull_by_git else "bootstrap",
              namespaces=("tigera-operator", "tigera-prometheus"), skip_dry_run=True,
              templates=("externalsecrets.yaml",) if pull_by_git else ()),
        Stage(6, "tigera-custom-resources", "Tigera custom resources", "git", skip_dry_run=True,
              requires="crds", provides="tigera-apiserver", templates=(
                  "installation.yaml", "apiserver.yaml", "intrusiondetection.yaml", "logcollector.yaml",
                  "logstorage.yaml", "manager.yaml", "monitor.yaml", "compliance.yaml",
                  "policyrecommendation.yaml")),
        Stage(7, "license", "Calico Enterprise license", "git" if license_by_git else "bootstrap",
              skip_dry_run=True, requires="tigera-apiserver", extra_resources=license_resources,
              sops=license_by_git),
        Stage(8, "bypass-policies", "API server endpoint bypass policies", "git",
              namespaces=tuple(bypass["namespaces"]), skip_dry_run=True, requires="tigera-apiserver",
              templates=("networkpolicies.yaml",)),
    )


def in_git(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    return tuple(stage for stage in stages if stage.delivery == "git")
