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
        "SOPS license", r"\.enc\.ya?ml$|license",
        "stage 07-license's only resource is the SOPS-encrypted LicenseKey named default "
        "(README, Secrets; bootstrap.sh refuses any other shape)",
        (_obj("projectcalico.org/v3", "LicenseKey", "default"),)),
)


class Unknown(Exception):
    """Remote content nothing here declares."""


def declared(reference: str) -> Declared:
    for entry in DECLARED:
        if re.search(entry.pattern, reference):
            return entry
    raise Unknown(reference)


def objects(reference: str, release_namespace: str = "") -> list[dict[str, Any]]:
    """The declared objects of `reference`, chart objects placed in `release_namespace`."""
    found = []
    for obj in declared(reference).objects:
        metadata = dict(obj["metadata"])
        if metadata.get("namespace") == RELEASE_NAMESPACE:
            metadata["namespace"] = release_namespace
        found.append({**obj, "metadata": metadata})
    return found
