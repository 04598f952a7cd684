"""Every Kubernetes kind the tree renders or its opaque content creates, declared once with its facts.

A stage names the kinds it delivers (renderer/model/stages.py: Stage.delivers); every list that names
kinds is derived from this table and those declarations: the AppProject's clusterResourceWhitelist
(render/engines/argocd.py), the simulator's cluster scope and API-server gates (simulate/cluster.py), the
schema registry (check/crds.py, devtools/crdschemas.py) and the TigeraStatus health table (facts.HEALTH).
Adding a kind is one row here; an operator kind is one row of OPERATOR_KINDS plus its template, its
tigera.customResources switch (schemas/values.schema.json, records.CustomResources) and, in each series
row, the TigeraStatus component it turns on (renderer/model/series.py): facts no table here can guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

SchemaSet = Literal["", "common", "series"]
"""Where a kind's strict schema lives: none (built in, kubernetes-validate checks it), schemas/crds/common,
or one set per Calico Enterprise series (schemas/crds/tigera-v<series>)."""

OPERATOR_GROUP = "operator.tigera.io"
CALICO_GROUP = "projectcalico.org"
CALICO_API = "api:projectcalico.org/v3"
"""projectcalico.org/v3 is an aggregated API served by the Tigera API server, not by CRDs."""


@dataclass(frozen=True)
class Kind:
    """One kind: its group and served version, scope, schema set, and what the API server needs first."""

    group: str
    kind: str
    version: str
    cluster: bool = False
    """Cluster-scoped (AppProject clusterResourceWhitelist; no namespace needs to exist)."""
    schema: SchemaSet = ""
    crd: str = ""
    """`<group>/<version>` of the CRD that defines it when not its own (projectcalico.org/v3 kinds are stored
    as crd.projectcalico.org/v1: devtools/crdschemas.py derives their schemas from those CRDs)."""
    needs: str = ""
    """The fact the API server needs before it accepts one, when not `crds:<group>` (a custom group) or
    nothing (a built-in group): simulate/cluster.py."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class OperatorKind:
    """An operator.tigera.io custom resource the tree can render (template `<kind lower-case>.yaml`).

    Health: when Argo CD and Flux may call one done, read from its status type (api/v1/*_types.go, and
    the status schemas of the CRDs in every ../shared/crds/tigera-ee-v3.*/ folder, 3.19.2 to 3.23.1: the
    same in every series so far)."""

    kind: str
    key: str
    """Its switch under tigera.customResources; empty: always rendered, and it needs no license (its
    controller never calls utils.FetchLicenseKey: tigera/operator v1.34.5 pkg/controller/installation,
    pkg/controller/apiserver)."""
    conditions: bool = True
    """Status mirrors its TigeraStatus as conditions (status.UpdateStatusCondition: Available -> Ready)."""
    state: bool = True
    """Status has `state`, set to Ready only after a successful reconcile."""

    @property
    def template(self) -> str:
        return f"{self.kind.lower()}.yaml"


OPERATOR_KINDS: tuple[OperatorKind, ...] = (
    OperatorKind("Installation", "", state=False),
    OperatorKind("APIServer", ""),
    OperatorKind("IntrusionDetection", "intrusionDetection"),
    OperatorKind("LogCollector", "logCollector"),
    OperatorKind("LogStorage", "logStorage"),
    OperatorKind("Manager", "manager"),
    OperatorKind("Monitor", "monitor"),
    OperatorKind("Compliance", "compliance"),
    OperatorKind("PolicyRecommendation", "policyRecommendation", conditions=False),
)
"""In template order (stage 06 renders the unlicensed ones, stage 09 the others)."""


def _builtin(group: str, kind: str, cluster: bool = False) -> Kind:
    return Kind(group, kind, "v1", cluster)


def _calico(kind: str, cluster: bool = True) -> Kind:
    return Kind(CALICO_GROUP, kind, "v3", cluster, "series", "crd.projectcalico.org/v1", CALICO_API)


NAMESPACE = _builtin("", "Namespace", cluster=True)
CRD = _builtin("apiextensions.k8s.io", "CustomResourceDefinition", cluster=True)
CLUSTER_ROLE = _builtin("rbac.authorization.k8s.io", "ClusterRole", cluster=True)
CLUSTER_ROLE_BINDING = _builtin("rbac.authorization.k8s.io", "ClusterRoleBinding", cluster=True)
STORAGE_CLASS = _builtin("storage.k8s.io", "StorageClass", cluster=True)
CSI_DRIVER = _builtin("storage.k8s.io", "CSIDriver", cluster=True)
PRIORITY_CLASS = _builtin("scheduling.k8s.io", "PriorityClass", cluster=True)
VALIDATING_WEBHOOK = _builtin("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", cluster=True)
MUTATING_WEBHOOK = _builtin("admissionregistration.k8s.io", "MutatingWebhookConfiguration", cluster=True)
OPERATOR = {row.kind: Kind(OPERATOR_GROUP, row.kind, "v1", True, "series") for row in OPERATOR_KINDS}
GLOBAL_NETWORK_POLICY = _calico("GlobalNetworkPolicy")
LICENSE_KEY = _calico("LicenseKey")
TIER = _calico("Tier")
NETWORK_POLICY = _calico("NetworkPolicy", cluster=False)
EXTERNAL_SECRET = Kind("external-secrets.io", "ExternalSecret", "v1", schema="common")
CLUSTER_SECRET_STORE = Kind("external-secrets.io", "ClusterSecretStore", "v1", cluster=True, schema="common")
APPLICATION = Kind("argoproj.io", "Application", "v1alpha1", schema="common")
APP_PROJECT = Kind("argoproj.io", "AppProject", "v1alpha1", schema="common")
APPLICATION_SET = Kind("argoproj.io", "ApplicationSet", "v1alpha1", schema="common")
"""Hub mode: the hub tree's one ApplicationSet (renderer/model/hub.py)."""
KUSTOMIZATION = Kind("kustomize.toolkit.fluxcd.io", "Kustomization", "v1", schema="common")
GIT_REPOSITORY = Kind("source.toolkit.fluxcd.io", "GitRepository", "v1", schema="common")
HELM_REPOSITORY = Kind("source.toolkit.fluxcd.io", "HelmRepository", "v1", schema="common")
HELM_RELEASE = Kind("helm.toolkit.fluxcd.io", "HelmRelease", "v2", schema="common")

KINDS: tuple[Kind, ...] = (
    NAMESPACE, CRD, CLUSTER_ROLE, CLUSTER_ROLE_BINDING, STORAGE_CLASS, CSI_DRIVER, PRIORITY_CLASS,
    VALIDATING_WEBHOOK, MUTATING_WEBHOOK, *OPERATOR.values(), GLOBAL_NETWORK_POLICY, LICENSE_KEY, TIER,
    NETWORK_POLICY, EXTERNAL_SECRET, CLUSTER_SECRET_STORE, APPLICATION, APP_PROJECT, APPLICATION_SET, KUSTOMIZATION,
    GIT_REPOSITORY, HELM_REPOSITORY, HELM_RELEASE,
)
"""Every kind, in the order lists derived from them keep (the AppProject whitelist reads in this order)."""

INSTALLED_BY_MANIFEST = (NAMESPACE, CRD, CLUSTER_ROLE, CLUSTER_ROLE_BINDING)
"""What an install manifest (an operator's, an engine's) brings at least: its namespace, its CRDs and its
cluster RBAC."""


def cluster_scoped(kinds: Iterable[Kind] = KINDS) -> frozenset[tuple[str, str]]:
    """(group, kind) of every cluster-scoped kind."""
    return frozenset((kind.group, kind.kind) for kind in kinds if kind.cluster)


def gates(kinds: Iterable[Kind] = KINDS) -> dict[str, str]:
    """Group -> the fact the API server needs first, where it is not the group's CRDs."""
    return {kind.group: kind.needs for kind in kinds if kind.needs}


def series_groups(kinds: Iterable[Kind] = KINDS) -> frozenset[str]:
    """Groups whose schemas differ by Calico Enterprise series (checked against that series' set)."""
    return frozenset(kind.group for kind in kinds if kind.schema == "series")


def whitelist(delivered: Iterable[Kind], kinds: Iterable[Kind] = KINDS) -> list[Kind]:
    """The cluster-scoped kinds among `delivered`, once each, in table order (any other after, as delivered)."""
    position = {kind: index for index, kind in enumerate(kinds)}
    found = dict.fromkeys(kind for kind in delivered if kind.cluster)
    return sorted(found, key=lambda kind: position.get(kind, len(position)))
