"""The one ordering model: which stages exist, in what order, and what each needs.

Kustomize directory numbers, Argo CD sync waves, Flux dependsOn chains and the
bootstrap's apply order are all derived from `plan()`; nothing else orders stages.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from renderer.model import kinds as k
from renderer.model.kinds import OPERATOR_KINDS, Kind
from renderer.model.meanings import ENGINES, Delivery, Done, Engine, Role
from renderer.model.records import Values


@dataclass(frozen=True)
class Stage:
    """One apply step and the facts every engine must honour (fact names: renderer/model/facts.py)."""

    position: int
    slug: str
    title: str
    delivery: Delivery
    """`git`: a Kustomize root under out/<cluster>/; `bootstrap`: done by the bootstrap script only."""
    namespaces: tuple[str, ...] = ()
    """Namespaces its objects land in (AppProject destinations)."""
    create_namespace: str = ""
    """Namespace the engine must create because the manifests do not."""
    server_side: bool = False
    """Needs server-side apply: CRDs over the 262144-byte last-applied annotation limit."""
    skip_dry_run: bool = False
    """Its kinds exist only after an earlier stage (operator.tigera.io, projectcalico.org/v3)."""
    prune_last: bool = False
    """What it replaces may go only once the replacement is applied (the bypass when the operator's tier is
    renamed: renderer/model/upgrade.py); Argo CD otherwise prunes a wave before applying it."""
    needs: tuple[str, ...] = ()
    """Facts that must hold before it is applied (an apply before them fails)."""
    provides: tuple[str, ...] = ()
    """Facts that hold once it is applied (CRDs Established, namespaces, the pull secret, the license)."""
    done: Done = "applied"
    """When later stages may start: `applied`, `crds` (its CRDs Established) or `healthy` (every object
    healthy, which includes what the operator needs for the CRs it carries)."""
    delivers: tuple[Kind, ...] = ()
    """Every kind its objects have, its opaque content's included (renderer/model/kinds.py): the AppProject
    whitelist, the simulator's scope and the schema registry follow from these."""
    templates: tuple[str, ...] = ()
    remote: tuple[str, ...] = ()
    patches: tuple[dict[str, Any], ...] = ()
    helm_chart: dict[str, Any] = field(default_factory=dict)
    extra_resources: tuple[str, ...] = ()
    """Repository files outside the tree (a SOPS-encrypted license), relative to the stage directory."""
    sops: bool = False
    engine: Engine | None = None
    """`argocd` or `flux` for the stage that installs that engine (it then manages itself)."""
    namespace: str = ""
    """The kustomization's `namespace:` (manifests that name none, as Argo CD's install.yaml)."""

    role: Role = ""
    """What it is for where code must single it out (the pull secret, the license)."""

    @property
    def directory(self) -> str:
        return f"{self.position:02d}-{self.slug}"

    @property
    def kinds(self) -> tuple[str, ...]:
        """operator.tigera.io kinds it delivers (their TigeraStatus components are in the rollout model)."""
        return tuple(kind.kind for kind in self.delivers if kind.group == k.OPERATOR_GROUP)


PLACEHOLDER_SECRET_PATCH: dict[str, Any] = {
    "target": {"version": "v1", "kind": "Secret", "name": "tigera-pull-secret", "namespace": "tigera-prometheus"},
    "patch": "$patch: delete\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tigera-pull-secret\n"
             "  namespace: tigera-prometheus\n",
}
"""Removes the upstream placeholder pull secret so a sync never overwrites the real one.

The `target` selector makes it a no-op when a release ships no such Secret."""


def longhorn_values(values: Values) -> dict[str, Any]:
    """Chart values shared by the Kustomize helmCharts entry, Argo CD and Flux."""
    replicas = values.longhorn.replicas
    return {
        "persistence": {"defaultClassReplicaCount": replicas},
        "defaultSettings": {"defaultReplicaCount": replicas},
        "preUpgradeChecker": {"jobEnabled": False},
    }


OPTIONAL_TIGERA_KINDS = {row.key: row.kind for row in OPERATOR_KINDS if row.key}
"""tigera.customResources key -> the kind it switches on (renderer/model/kinds.py)."""
CORE_TIGERA_KINDS = tuple(row.kind for row in OPERATOR_KINDS if not row.key)
"""Kinds that need no license, always rendered (kinds.OperatorKind.key)."""


def licensed_kinds(values: Values) -> list[str]:
    """The optional operator.tigera.io kinds switched on, in template order."""
    enabled = values.tigera.customResources
    return [kind for key, kind in OPTIONAL_TIGERA_KINDS.items() if getattr(enabled, key)]


def tigera_kinds(values: Values) -> list[str]:
    """operator.tigera.io kinds the tree renders, in template order."""
    return [*CORE_TIGERA_KINDS, *licensed_kinds(values)]


def _operator(kinds: tuple[str, ...]) -> tuple[Kind, ...]:
    return tuple(k.OPERATOR[kind] for kind in kinds)


def _templates(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Each operator kind's template (every switchable one is listed: a switched-off kind renders empty)."""
    return tuple(row.template for row in OPERATOR_KINDS if row.kind in kinds)


def manifest_url(values: Values, name: str) -> str:
    tigera = values.tigera
    return f"{tigera.manifestsBaseURL.rstrip('/')}/{tigera.version}/manifests/{name}"


def plan(values: Values) -> tuple[Stage, ...]:
    """The stages for one cluster by position (directory numbers never shift); order.py orders them."""
    longhorn = values.longhorn
    secrets = values.secrets
    pull_by_git = secrets.pullSecret.provider == "external-secrets"
    license_by_git = secrets.license.provider == "sops"
    license_resources: tuple[str, ...] = ()
    if license_by_git:
        encrypted = secrets.license.encryptedFile
        assert encrypted is not None, "validate/ requires secrets.license.encryptedFile with sops"
        stage_dir = posixpath.join(values.gitops.path, "07-license")
        license_resources = (posixpath.relpath(encrypted, stage_dir),)
    licensed = tuple(licensed_kinds(values))
    manifest = k.INSTALLED_BY_MANIFEST
    stages = [
        Stage(1, "longhorn", "Longhorn storage", "git", namespaces=(longhorn.namespace,),
              create_namespace=longhorn.namespace, server_side=True, done="crds",
              provides=("crds:longhorn.io", f"namespace:{longhorn.namespace}"),
              templates=("namespace.yaml",),
              # The chart's cluster-scoped kinds, as the AppProject has always allowed them.
              delivers=(*manifest, k.STORAGE_CLASS, k.CSI_DRIVER, k.PRIORITY_CLASS, k.VALIDATING_WEBHOOK,
                        k.MUTATING_WEBHOOK),
              helm_chart={"name": "longhorn", "repo": longhorn.chartRepository,
                          "version": longhorn.chartVersion, "releaseName": "longhorn",
                          "namespace": longhorn.namespace, "includeCRDs": True,
                          "valuesInline": longhorn_values(values)}),
        Stage(2, "storageclass", "StorageClass tigera-elasticsearch", "git", templates=("storageclass.yaml",),
              provides=("storageclass:tigera-elasticsearch",), delivers=(k.STORAGE_CLASS,)),
        # The manifest carries the operator.tigera.io and crd.projectcalico.org CRDs and the namespace.
        Stage(3, "tigera-operator", "Tigera operator", "git", namespaces=("tigera-operator",),
              server_side=True, done="crds",
              provides=("crds:operator.tigera.io", "crds:crd.projectcalico.org", "namespace:tigera-operator"),
              remote=(manifest_url(values, "tigera-operator.yaml"),), delivers=manifest),
        # Its Deployment pulls with tigera-pull-secret, which the Monitor controller copies into
        # tigera-prometheus later (pkg/render/monitor/monitor.go): only its CRDs gate later stages.
        Stage(4, "tigera-prometheus-operator", "Tigera Prometheus operator", "git",
              namespaces=("tigera-prometheus",), server_side=True, done="crds",
              provides=("crds:monitoring.coreos.com", "namespace:tigera-prometheus"),
              remote=(manifest_url(values, "tigera-prometheus-operator.yaml"),),
              patches=(PLACEHOLDER_SECRET_PATCH,), delivers=manifest),
        Stage(5, "pull-secrets", "Pull secret tigera-pull-secret", "git" if pull_by_git else "bootstrap",
              namespaces=("tigera-operator",), skip_dry_run=True, done="healthy",
              needs=("namespace:tigera-operator", *(("crds:external-secrets.io",) if pull_by_git else ())),
              provides=("pull-secret",),
              templates=("externalsecrets.yaml",) if pull_by_git else (),
              delivers=(k.EXTERNAL_SECRET,) if pull_by_git else (), role="pull-secret"),
        Stage(6, "tigera-custom-resources", "Tigera custom resources (no license needed)", "git",
              skip_dry_run=True, done="healthy", needs=("crds:operator.tigera.io",),
              delivers=_operator(CORE_TIGERA_KINDS), templates=_templates(CORE_TIGERA_KINDS)),
        # LicenseKey is projectcalico.org/v3, served by the Tigera API server (aggregated API).
        Stage(7, "license", "Calico Enterprise license", "git" if license_by_git else "bootstrap",
              skip_dry_run=True, needs=("api:projectcalico.org/v3",), provides=("license",),
              extra_resources=license_resources, sops=license_by_git,
              delivers=(k.LICENSE_KEY,) if license_by_git else (), role="license"),
        # A policy in a tier that does not exist yet is refused; the tiers controller creates the tier
        # up to 30 s after the license (tigera/operator pkg/controller/tiers/tiers_controller.go).
        Stage(8, "bypass-policies", "API server endpoint bypass policy", "git", skip_dry_run=True, prune_last=True,
              needs=("api:projectcalico.org/v3", "tier:operator"),
              provides=tuple(f"api-egress:{namespace}" for namespace in values.bypass.namespaces),
              templates=("globalnetworkpolicy.yaml",), delivers=(k.GLOBAL_NETWORK_POLICY,)),
    ]
    if licensed:
        stages.append(Stage(9, "tigera-enterprise-resources", "Tigera custom resources that need the license",
                            "git", skip_dry_run=True, done="healthy", needs=("crds:operator.tigera.io",),
                            delivers=_operator(licensed),
                            templates=_templates(tuple(OPTIONAL_TIGERA_KINDS.values()))))
    stages += engine_stages(values)
    return tuple(stages)


ENGINE_POSITIONS: dict[Engine, int] = {"argocd": 10, "flux": 11}

ENGINE_WORKLOADS: dict[str, str] = {"argocd": "argocd", "flux": "flux-system"}
"""Namespace whose Deployments and StatefulSets must be Available before the handover (argo-cd v3.5.1
manifests/install.yaml: six Deployments and the argocd-application-controller StatefulSet; flux2 v2.9.4
manifests/install: one Deployment per controller)."""

ARGOCD_CM_PATCH: dict[str, Any] = {"path": "argocd-cm.yaml", "target": {"version": "v1", "kind": "ConfigMap",
                                                                        "name": "argocd-cm"}}
"""Merges the health checks the tree relies on into the install manifest's argocd-cm (a `target`
selector, so it matches before and after the namespace is set)."""


def engine_url(values: Values, engine: Engine) -> str:
    """The release's install manifest: argo-cd `manifests/install.yaml` at the tag (docs/getting_started.md);
    flux2's release asset, `kustomize build ./manifests/install` (.github/workflows/release.yaml at v2.9.4)."""
    gitops = values.gitops
    if engine == "argocd":
        return f"{gitops.argocdManifestsBaseURL.rstrip('/')}/{gitops.argocdVersion}/manifests/install.yaml"
    return f"{gitops.fluxManifestsBaseURL.rstrip('/')}/{gitops.fluxVersion}/install.yaml"


def engines(values: Values) -> tuple[Engine, ...]:
    """The engines that deliver the tree (gitops.engine; `both` is Argo CD and Flux)."""
    engine = values.gitops.engine
    return ENGINES if engine == "both" else (engine,)


def engine_stages(values: Values) -> list[Stage]:
    """The engines the tree installs (none with gitops.engineInstalled: true, nor in hub mode, where the hub's
    Argo CD delivers the cluster). Their pods need the pod network; the CRDs exceed the client-side apply
    annotation limit (argo-cd docs/getting_started.md)."""
    if values.gitops.engineInstalled or values.gitops.hub is not None:
        return []
    stages = []
    if "argocd" in engines(values):
        namespace = values.gitops.argocdNamespace
        stages.append(Stage(ENGINE_POSITIONS["argocd"], "argocd", f"Argo CD {values.gitops.argocdVersion}", "git",
                            namespaces=(namespace,), server_side=True, needs=("calico",),
                            provides=("crds:argoproj.io", "engine:argocd"), templates=("namespace.yaml",),
                            remote=(engine_url(values, "argocd"),), patches=(ARGOCD_CM_PATCH,), engine="argocd",
                            namespace=namespace, delivers=k.INSTALLED_BY_MANIFEST))
    if "flux" in engines(values):
        stages.append(Stage(ENGINE_POSITIONS["flux"], "flux", f"Flux {values.gitops.fluxVersion}", "git",
                            namespaces=(values.gitops.fluxNamespace,), server_side=True, needs=("calico",),
                            provides=("crds:source.toolkit.fluxcd.io", "crds:kustomize.toolkit.fluxcd.io",
                                      "crds:helm.toolkit.fluxcd.io", "engine:flux"),
                            remote=(engine_url(values, "flux"),), engine="flux", delivers=k.INSTALLED_BY_MANIFEST))
    return stages


NODEPOOL = Stage(0, "nodepool", "Worker nodes", "bootstrap", needs=("crds:operator.tigera.io",),
                 provides=("nodes",), role="nodepool")
"""The bootstrap's `exo compute sks nodepool add`: nodes join once the operator's CRDs exist, as in the
seed runbook, so the operator can start and Calico turns them Ready without a manual step."""


def in_git(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    return tuple(stage for stage in stages if stage.delivery == "git")
