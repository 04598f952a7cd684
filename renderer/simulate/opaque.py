"""What opaque content creates, declared once with its source: remote manifests, Helm charts, SOPS files.

The simulator cannot read these offline, so it applies the objects declared here in their place;
every fact that follows (a namespace exists, a group's CRDs are Established) then comes from those
objects, as for any other file. Only what the rollout depends on is listed: namespaces, CRDs (one per
group is enough to establish the group), and the namespaced objects whose namespace must exist.
A chart's namespaced objects go to the release namespace, which the chart does not create.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

RELEASE_NAMESPACE = "{release}"


def _crd(name: str) -> dict[str, Any]:
    group = name.split(".", 1)[1]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name}, "spec": {"group": group}}


JSON_BYTES = {"installations.operator.tigera.io": 523_060}
"""Declared objects whose real size matters: the Installation CRD as compact JSON is 523,060 bytes in
Calico Enterprise 3.19.2 (tigera/operator v1.34.5 pkg/imports/crds/operator/operator.tigera.io_installations.yaml;
525,208 to 629,135 in 3.20 to 3.23), twice the 262,144 bytes client-side apply can keep in its annotation."""


def _obj(api: str, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api, "kind": kind, "metadata": metadata}


@dataclass(frozen=True)
class Declared:
    name: str
    pattern: str
    """Matched against a remote URL, a vendored directory or `chart:<name>`."""
    source: str
    objects: tuple[dict[str, Any], ...]


DECLARED: tuple[Declared, ...] = (
    Declared(
        "tigera-operator.yaml", r"tigera-operator(\.yaml$|-[0-9a-f]+/?$)",
        "https://downloads.tigera.io/ee/<version>/manifests/tigera-operator.yaml (Calico Enterprise; its open "
        "source counterpart projectcalico/calico v3.28.2 manifests/tigera-operator.yaml has the same objects: "
        "Namespace tigera-operator, the operator.tigera.io and crd.projectcalico.org CRDs, the operator Deployment)",
        (_obj("v1", "Namespace", "tigera-operator"),
         _crd("installations.operator.tigera.io"), _crd("apiservers.operator.tigera.io"),
         _crd("tigerastatuses.operator.tigera.io"), _crd("ippools.crd.projectcalico.org"),
         _obj("v1", "ServiceAccount", "tigera-operator", "tigera-operator"),
         _obj("apps/v1", "Deployment", "tigera-operator", "tigera-operator"))),
    Declared(
        "tigera-prometheus-operator.yaml", r"tigera-prometheus-operator(\.yaml$|-[0-9a-f]+/?$)",
        "https://downloads.tigera.io/ee/<version>/manifests/tigera-prometheus-operator.yaml (Calico Enterprise "
        "docs, 'Install Calico Enterprise': Namespace tigera-prometheus, the monitoring.coreos.com CRDs, "
        "Deployment calico-prometheus-operator)",
        (_obj("v1", "Namespace", "tigera-prometheus"),
         _crd("prometheuses.monitoring.coreos.com"), _crd("servicemonitors.monitoring.coreos.com"),
         _obj("apps/v1", "Deployment", "calico-prometheus-operator", "tigera-prometheus"))),
    Declared(
        "longhorn chart", r"^chart:longhorn$",
        "longhorn/longhorn v1.7.0 chart/templates/crds.yaml (the longhorn.io CRDs), serviceaccount.yaml, "
        "daemonset-sa.yaml and deployment-driver.yaml (in the release namespace; no template creates a Namespace)",
        (_crd("volumes.longhorn.io"), _crd("settings.longhorn.io"),
         _obj("v1", "ServiceAccount", "longhorn-service-account", RELEASE_NAMESPACE),
         _obj("apps/v1", "DaemonSet", "longhorn-manager", RELEASE_NAMESPACE),
         _obj("apps/v1", "Deployment", "longhorn-driver-deployer", RELEASE_NAMESPACE))),
    Declared(
        "Argo CD install.yaml", r"/manifests/install\.yaml$|@argocd:(^|.*/)install-[0-9a-f]+/?$",
        "argoproj/argo-cd v3.5.1 manifests/install.yaml: the argoproj.io CRDs (Application, AppProject, "
        "ApplicationSet) and, without a namespace of their own (the stage's kustomization sets it), ConfigMap "
        "argocd-cm, the argocd-server, argocd-repo-server and argocd-redis Deployments and the "
        "argocd-application-controller StatefulSet",
        (_crd("applications.argoproj.io"), _crd("appprojects.argoproj.io"), _crd("applicationsets.argoproj.io"),
         _obj("v1", "ConfigMap", "argocd-cm", RELEASE_NAMESPACE),
         _obj("apps/v1", "Deployment", "argocd-server", RELEASE_NAMESPACE),
         _obj("apps/v1", "Deployment", "argocd-repo-server", RELEASE_NAMESPACE),
         _obj("apps/v1", "Deployment", "argocd-redis", RELEASE_NAMESPACE),
         _obj("apps/v1", "StatefulSet", "argocd-application-controller", RELEASE_NAMESPACE))),
    Declared(
        "Flux install.yaml", r"/v[0-9][^/]*/install\.yaml$|@:(^|.*/)install-[0-9a-f]+/?$",
        "fluxcd/flux2 v2.9.4 manifests/install/kustomization.yaml (the release asset install.yaml is its "
        "kustomize build): Namespace flux-system, the source, kustomize and helm toolkit CRDs, and the "
        "source-, kustomize-, helm- and notification-controller Deployments in flux-system",
        (_obj("v1", "Namespace", "flux-system"),
         _crd("gitrepositories.source.toolkit.fluxcd.io"), _crd("helmrepositories.source.toolkit.fluxcd.io"),
         _crd("kustomizations.kustomize.toolkit.fluxcd.io"), _crd("helmreleases.helm.toolkit.fluxcd.io"),
         _obj("apps/v1", "Deployment", "source-controller", "flux-system"),
         _obj("apps/v1", "Deployment", "kustomize-controller", "flux-system"),
         _obj("apps/v1", "Deployment", "helm-controller", "flux-system"),
         _obj("apps/v1", "Deployment", "notification-controller", "flux-system"))),
    Declared(
        "SOPS license", r"\.enc\.ya?ml$|license",
        "stage 07-license's only resource is the SOPS-encrypted LicenseKey named default "
        "(README, Secrets; bootstrap.sh refuses any other shape)",
        (_obj("projectcalico.org/v3", "LicenseKey", "default"),)),
)


class Unknown(Exception):
    """Remote content nothing here declares."""


def declared(reference: str, namespace: str = "") -> Declared:
    """The entry for a URL, a chart or a vendored directory. Both engines' manifests are named install.yaml,
    so their vendored directories (remote/vendor.py: install-<sha256 prefix>) are told apart by the namespace
    their stage's kustomization sets (`@argocd:` for Argo CD's, whose objects carry none; `@:` for Flux's)."""
    for entry in DECLARED:
        if re.search(entry.pattern, reference) or re.search(entry.pattern, f"@{namespace}:{reference}"):
            return entry
    raise Unknown(reference)


def objects(reference: str, release_namespace: str = "") -> list[dict[str, Any]]:
    """The declared objects of `reference`, chart objects placed in `release_namespace`."""
    found = []
    for obj in declared(reference, release_namespace).objects:
        metadata = dict(obj["metadata"])
        if metadata.get("namespace") == RELEASE_NAMESPACE:
            metadata["namespace"] = release_namespace
        found.append({**obj, "metadata": metadata})
    return found
