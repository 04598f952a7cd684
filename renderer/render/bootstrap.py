"""The bootstrap script's plan: its steps in order, the facts each waits for, and why.

The order is the rollout model's (Model.bootstrap, from renderer/model/order.py), so the script
waits for the same facts Argo CD and Flux order by; templates/bootstrap/ only iterates over
`plan(model).steps`. Fact names are the model's (renderer/model/facts.py): `crds:<group>`,
`nodes`, `api:projectcalico.org/v3`, `tier:operator`, `namespace:<name>`, `pull-secret`, ...;
each kind has one shell wait function (WAITS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from renderer.model import hub as hub_model
from renderer.model.order import BOOTSTRAP_ENVIRONMENT, Placed
from renderer.model.stages import ENGINE_WORKLOADS, Stage, tigera_kinds
from renderer.render.engines import flux

if TYPE_CHECKING:
    from renderer.model import Model

PULL_SECRET_NAMESPACES = ("tigera-operator", "tigera-prometheus")
"""Where the bootstrap creates tigera-pull-secret from the local file: the operator's namespace, and the
Prometheus operator's, whose Deployment pulls before the Monitor controller copies the secret there
(tigera/operator v1.34.5 pkg/render/monitor/monitor.go); the operator then owns that copy."""


@dataclass(frozen=True)
class Wait:
    """How the script checks one fact: a shell function, its arguments, a timeout and a sentence."""

    fact: str
    function: str
    args: tuple[str, ...]
    timeout: str
    """The shell variable holding the timeout: WAIT_TIMEOUT or APISERVER_TIMEOUT."""
    description: str


@dataclass(frozen=True)
class Step:
    name: str
    """The --from name: `preflight`, `01-longhorn`, `nodepool`, ..."""
    kind: str
    """Which include renders it: templates/bootstrap/<kind>.sh.j2."""
    description: str
    needs: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    why: str = ""
    """Why it runs where it does: the steps providing what it needs."""
    stage: Stage | None = None

    @property
    def function(self) -> str:
        return ("stage_" if self.stage else "step_") + self.name.replace("-", "_")

    @property
    def singletons(self) -> tuple[tuple[str, str], ...]:
        """Resources of its stage the operator accepts once, named `default`."""
        templates = self.stage.templates if self.stage else ()
        return tuple(SINGLETONS[template] for template in templates if template in SINGLETONS)

    @property
    def helm_values(self) -> str:
        return helm_values_json(self.stage) if self.stage and self.stage.helm_chart else ""


@dataclass(frozen=True)
class Hub:
    """Hub mode: the hub the bootstrap registers the cluster with, and what it applies there."""

    name: str
    namespace: str
    """Argo CD's namespace on the hub: the registration Secret and the hub tree's objects live there."""
    cluster_name: str
    """The name the cluster is registered under (its Applications' destination.name)."""
    secret: str
    """The registration Secret (Argo CD finds it by its label, whatever its name)."""
    tree: str
    """The hub tree, relative to the repository root."""
    root: str
    """The root Application the hub tree's ApplicationSet generates for this cluster."""


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    waits: dict[str, Wait]
    """Every fact some step needs, with its check."""
    pull_by_bootstrap: bool
    license_by_bootstrap: bool
    helm: bool
    engine_label: str
    tigerastatus: tuple[str, ...]
    """TigeraStatus names the rendered custom resources make the operator report."""
    pull_secret_namespaces: tuple[str, ...] = PULL_SECRET_NAMESPACES
    git_by_bootstrap: bool = False
    """The bootstrap creates the engine's repository Secret from a local file (secrets.gitCredentials)."""
    git_secrets: tuple[tuple[str, str, str], ...] = ()
    """(engine, namespace, name) of each repository Secret the bootstrap creates."""
    git_ssh: bool = False
    """The repository URL is ssh (the file is a deploy key), else https (the file is a token)."""
    git_known_hosts: bool = False
    """Flux over ssh: the Secret also needs the server's known_hosts, from a second file."""
    installs_engine: bool = False
    """The engine is a stage of the tree (gitops.engineInstalled: false): the handover waits for it."""
    hub: Hub | None = None
    """Hub mode: the cluster is registered with the hub, whose Argo CD delivers it; None: its own engine."""


# One shell function per kind of fact (templates/bootstrap/waits.sh.j2 defines them).
WAITS: dict[str, tuple[str, str, str]] = {
    "crds": ("wait_crds", "WAIT_TIMEOUT", "the CustomResourceDefinitions of {arg} are Established"),
    "nodes": ("wait_nodes", "APISERVER_TIMEOUT", "{size} nodes of nodepool {nodepool} are Ready"),
    "api": ("wait_tigera_api", "APISERVER_TIMEOUT",
            "the Tigera API server is Available (tigerastatus apiserver): it serves {arg}"),
    "license": ("wait_license", "WAIT_TIMEOUT", "LicenseKey default exists"),
    "tier": ("wait_tier", "WAIT_TIMEOUT", "Tier {arg} exists (the operator creates it once the license is processed)"),
    "namespace": ("wait_namespace", "WAIT_TIMEOUT", "namespace {arg} exists"),
    "pull-secret": ("wait_pull_secret", "WAIT_TIMEOUT", "Secret tigera-pull-secret exists in {namespaces}"),
    "bypass": ("wait_stage_objects", "WAIT_TIMEOUT", "the objects of stage {directory} exist"),
    "calico": ("wait_pod_network", "APISERVER_TIMEOUT", "tigerastatus calico is Available (the pod network runs)"),
    "engine": ("wait_workloads", "WAIT_TIMEOUT",
               "the Deployments and StatefulSets of {arg} in namespace {namespace} are Available"),
}

# Objects the operator accepts only once, by name `default`: another name (the seed's APIServer
# is `tigera-secure`) makes it report "multiple APIServer CRs".
SINGLETONS: dict[str, tuple[str, str]] = {"installation.yaml": ("installations.operator.tigera.io", "Installation"),
                                          "apiserver.yaml": ("apiservers.operator.tigera.io", "APIServer")}


# ---- facts ---------------------------------------------------------------------------------

def kind_of(fact: str) -> str:
    return fact.split(":", 1)[0]


def wait_for(fact: str, model: Model) -> Wait:
    kind, _, arg = fact.partition(":")
    if fact == "tier:operator":  # the tier holding the operator's policies (Series.tier, renderer/model/series.py)
        arg = model.policy_tier
    if kind not in WAITS:
        raise ValueError(f"no wait for the fact {fact!r} (renderer/render/bootstrap.py WAITS)")
    function, timeout, text = WAITS[kind]
    pools = model.values.nodepool
    args: tuple[str, ...] = (arg,) if arg else ()
    pull = next((stage for stage in model.stages if stage.role == "pull-secret"), None)
    namespaces = PULL_SECRET_NAMESPACES if pull and pull.delivery == "bootstrap" else pull.namespaces if pull else ()
    directory = ""
    if kind == "nodes":
        args = (str(pools.size),)
    elif kind == "pull-secret":
        args = tuple(namespaces)
    elif kind == "bypass":
        directory = next((s.directory for s in model.stages if fact in s.provides), "")
        args = (directory,)
    elif kind == "engine":
        args = (ENGINE_WORKLOADS[arg],)
    text = text.format(arg=arg, size=pools.size, nodepool=pools.name, namespaces=" and ".join(namespaces),
                       directory=directory, namespace=ENGINE_WORKLOADS.get(arg, ""))
    return Wait(fact, function, args, timeout, text)


# ---- the plan ------------------------------------------------------------------------------

def _stage_kind(stage: Stage, engine_delivered: bool) -> str:
    if engine_delivered:
        return "stage-engine"
    if stage.delivery == "bootstrap":
        return {"pull-secret": "stage-pull-secret", "license": "stage-license"}[stage.role]
    if stage.helm_chart:
        return "stage-helm"
    if stage.role == "pull-secret":
        return "stage-external-secrets"
    return "stage-apply"


def _why(placed: Placed) -> str:
    """The steps providing what it waits for (renderer/model/order.py: the stages the derivation used)."""
    if not placed.depends_on:
        return ""
    needs = ", ".join(placed.stage.needs) or "what they provide"
    return f"after {', '.join(stage.directory for stage in placed.depends_on)} ({needs})"


def plan(model: Model) -> Plan:
    """The steps in the order the rollout model places them (Model.bootstrap); what the bootstrap cannot
    deliver itself (a SOPS license, and what needs it) is left to the engine after the handover."""
    values = model.values
    cluster, pools = values.cluster, values.nodepool
    engine_label = " and ".join({"argocd": "Argo CD", "flux": "Flux"}[name] for name in model.engines)
    hub = hub_of(model)
    if hub is not None:
        engine_label = f"the Argo CD of hub {hub.name}"
    steps = [
        Step("preflight", "preflight", "tools, flags, rendered tree and secret files (no cloud call)"),
        Step("security-group", "security-group",
             f"security group {pools.securityGroups[0]} and the ingress rules the nodes need"),
        Step("cluster", "cluster", f"SKS cluster {cluster.name} without CNI and without nodes"),
        Step("kubeconfig", "kubeconfig", "admin kubeconfig, mode 0600, outside the repository"),
        Step("endpoint", "endpoint", "real endpoint of the kubernetes Service against apiServer in values"),
    ]
    for placed in model.bootstrap:
        stage = placed.stage
        if stage.role == "nodepool":
            steps.append(Step("nodepool", "nodepool", f"nodepool {pools.name} ({pools.size} nodes)",
                              stage.needs, stage.provides, why=_why(placed)))
            continue
        needs = tuple(fact for fact in stage.needs if fact not in BOOTSTRAP_ENVIRONMENT)  # checked, not awaited
        steps.append(Step(stage.directory, _stage_kind(stage, False), f"stage {stage.position}: {stage.title}",
                          needs, stage.provides, why=_why(placed), stage=stage))
    applied = {placed.stage.position for placed in model.bootstrap}
    left = [stage for stage in model.stages if stage.position not in applied]
    health = Step("health", "health", "wait until every tigerastatus is Available")
    # The engine's CRDs Established (its objects are refused before) and its workloads Available.
    installed = tuple(fact for stage in model.stages if stage.engine for fact in stage.provides)
    credential = values.secrets.gitCredentials.provider == "bootstrap"
    handover = Step("handover", "handover", f"{'repository credential from a file, then ' if credential else ''}"
                    f"hand the applied stages over to {engine_label}"
                    + (" (it applies what only it can)" if left else ""), needs=("nodes", *installed))
    register, apply = hub_model.REGISTER_STEP, hub_model.APPLY_STEP
    hub_steps = [] if hub is None else [
        Step(register, register, f"ServiceAccount argocd-manager and its token in {cluster.name}, "
             f"registered with hub {hub.name} as cluster {hub.cluster_name} (Secret {hub.namespace}/{hub.secret})",
             provides=(hub_model.STEP_FACTS[register],)),
        Step(apply, apply, f"{'repository credential, then ' if credential else ''}the hub tree "
             f"{hub.tree} server-side applied to hub {hub.name}", provides=(hub_model.STEP_FACTS[apply],))]
    if hub is not None:
        handover = Step("handover", "handover", f"hand the applied stages over to {engine_label}: root Application "
                        f"{hub.root} Synced and Healthy on the hub, every tigerastatus Available", needs=("nodes",))
    if left:
        steps += hub_steps
        steps.append(handover)
        steps += [Step(stage.directory, "stage-engine", f"stage {stage.position}: {stage.title} "
                       f"(applied by {engine_label})", why=f"after the handover ({', '.join(stage.needs)})",
                       stage=stage) for stage in left]
        steps.append(health)
    else:
        steps += [health, *hub_steps, handover]
    facts = dict.fromkeys(fact for step in steps for fact in step.needs)
    by_role = {stage.role: stage.delivery for stage in model.stages}
    pull, license_ = by_role.get("pull-secret") == "bootstrap", by_role.get("license") == "bootstrap"
    return Plan(steps=tuple(steps), waits={fact: wait_for(fact, model) for fact in facts},
                pull_by_bootstrap=pull, license_by_bootstrap=license_,
                helm=any(stage.helm_chart for stage in model.stages), engine_label=engine_label,
                tigerastatus=tuple(component.name for component in model.tigera.components_for(tigera_kinds(values))),
                git_by_bootstrap=credential, installs_engine=bool(installed),
                git_secrets=git_secrets(model) if credential else (),
                git_ssh=not values.gitops.repoURL.startswith("https://"),
                git_known_hosts=credential and "flux" in model.engines and not values.gitops.repoURL.startswith(
                    "https://"), hub=hub)


# ---- hub mode ------------------------------------------------------------------------------

def hub_tree(model: Model) -> str:
    """The hub tree, relative to the repository root: the one place the bootstrap takes it from."""
    return hub_model.hub_path(model.values)


def hub_root_application(model: Model) -> str:
    """The root Application the hub's ApplicationSet generates for this cluster."""
    return hub_model.root_application(model.cluster)


def hub_of(model: Model) -> Hub | None:
    hub = model.values.gitops.hub
    if hub is None:
        return None
    return Hub(name=hub.name, namespace=hub.namespace, cluster_name=hub.clusterName,
               secret=f"cluster-{hub.clusterName}", tree=hub_tree(model), root=hub_root_application(model))


def git_secrets(model: Model) -> tuple[tuple[str, str, str], ...]:
    """The repository Secret of each engine: Argo CD finds it by its label argocd.argoproj.io/secret-type:
    repository (argo-cd v3.5.1 common/common.go LabelValueSecretTypeRepository; fields url, type, username,
    password, sshPrivateKey: util/db/repository_secrets.go); Flux by the GitRepository's secretRef."""
    gitops = model.values.gitops
    found = []
    if gitops.hub is not None:  # one repository Secret on the hub, shared by the clusters it delivers
        return (("argocd", gitops.hub.namespace, f"{gitops.hub.name}-repository"),)
    if "argocd" in model.engines:
        found.append(("argocd", gitops.argocdNamespace, f"{model.cluster}-repository"))
    if "flux" in model.engines:
        found.append(("flux", gitops.fluxNamespace, flux.git_secret(model, flux.flux_url(gitops.repoURL))))
    return tuple(found)


def helm_values_json(stage: Stage) -> str:
    """The chart values as `helm get values --output json` prints them (Go's encoding/json: sorted
    keys, compact, <>& escaped; helm v3.18.0 pkg/cli/output/output.go EncodeJSON)."""
    text = json.dumps(stage.helm_chart.get("valuesInline", {}), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
