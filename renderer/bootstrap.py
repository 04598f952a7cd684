"""The bootstrap script's plan: its steps in order, the facts each waits for, and why.

Computed here from the stage model (renderer/stages.py), so the script waits for the same facts
Argo CD and Flux order by; templates/bootstrap/ only iterates over `plan(model).steps`.

A fact is a name such as `crds:operator.tigera.io` (the CRDs of that API group Established),
`nodes`, `api:projectcalico.org/v3` (the Tigera API server Available), `license`,
`tier:allow-tigera`, `namespace:<name>` (created by the operator), `pull-secret` or `bypass`.
Each has one shell wait function (WAITS). A step runs only after the steps providing its
needs; controller rules (CONTROLLER_RULES) add what the cluster needs before a fact can hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from renderer.stages import Stage, tigera_kinds

if TYPE_CHECKING:
    from renderer.model import Model


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
    after: tuple[str, ...] = ()
    """Facts it is ordered after without waiting for them (a stage the engine applies)."""
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


# One shell function per kind of fact (templates/bootstrap/waits.sh.j2 defines them).
WAITS: dict[str, tuple[str, str, str]] = {
    "crds": ("wait_crds", "WAIT_TIMEOUT", "the CustomResourceDefinitions of {arg} are Established"),
    "nodes": ("wait_nodes", "APISERVER_TIMEOUT", "{size} nodes of nodepool {nodepool} are Ready"),
    "api": ("wait_tigera_api", "APISERVER_TIMEOUT",
            "the Tigera API server is Available (tigerastatus apiserver): it serves {arg}"),
    "license": ("wait_license", "WAIT_TIMEOUT", "LicenseKey default exists"),
    "tier": ("wait_tier", "WAIT_TIMEOUT", "Tier {arg} exists (the operator creates it once the license is processed)"),
    "namespace": ("wait_namespace", "WAIT_TIMEOUT", "namespace {arg} exists (the operator creates it)"),
    "pull-secret": ("wait_pull_secret", "WAIT_TIMEOUT", "Secret tigera-pull-secret exists in {namespaces}"),
    "bypass": ("wait_stage_objects", "WAIT_TIMEOUT", "the objects of stage {directory} exist"),
}

# What the cluster needs before a fact can hold, whoever provides it. The operator runs, and
# creates its namespaces and its API server, only once nodes exist; its tiers controller
# creates the tiers only with a license (tigera/operator v1.34.5 pkg/controller/tiers/tiers_controller.go).
CONTROLLER_RULES: dict[str, tuple[str, ...]] = {
    "api": ("nodes",),
    "namespace": ("nodes",),
    "tier": ("license", "api:projectcalico.org/v3"),
}

# TigeraStatus names per custom resource kind (tigera/operator v1.34.5: the status.New(...) call of
# each pkg/controller/<kind>/*_controller.go; log-storage in pkg/controller/logstorage/initializer).
TIGERASTATUS: dict[str, tuple[str, ...]] = {
    "Installation": ("calico",), "APIServer": ("apiserver",), "IntrusionDetection": ("intrusion-detection",),
    "LogCollector": ("log-collector",), "LogStorage": ("log-storage",), "Manager": ("manager",),
    "Monitor": ("monitor",), "Compliance": ("compliance",), "PolicyRecommendation": ("policy-recommendation",),
}

# Objects the operator accepts only once, by name `default`: another name (the seed's APIServer
# is `tigera-secure`) makes it report "multiple APIServer CRs".
SINGLETONS: dict[str, tuple[str, str]] = {"installation.yaml": ("installations.operator.tigera.io", "Installation"),
                                          "apiserver.yaml": ("apiservers.operator.tigera.io", "APIServer")}


# ---- today's stage model -> facts (delete once stages carry needs/provides tuples) ----------

_LEGACY_CRDS = {"longhorn": "longhorn.io", "tigera-operator": "operator.tigera.io",
                "tigera-prometheus-operator": "monitoring.coreos.com"}


def _legacy_needs(stage: Stage, model: Model) -> tuple[str, ...]:
    requires = getattr(stage, "requires", "")
    needs: list[str] = []
    if requires == "crds":
        needs.append("crds:operator.tigera.io")
    if requires == "tigera-apiserver":
        needs.append("api:projectcalico.org/v3")
    if stage.slug == "bypass-policies":
        needs += [f"tier:{model.policy_tier}", *(f"namespace:{name}" for name in stage.namespaces)]
    return tuple(needs)


def _legacy_provides(stage: Stage) -> tuple[str, ...]:
    provides = getattr(stage, "provides", "")
    by_slug = {"pull-secrets": "pull-secret", "license": "license", "bypass-policies": "bypass"}
    facts = [f"crds:{_LEGACY_CRDS[stage.slug]}"] if provides == "crds" and stage.slug in _LEGACY_CRDS else []
    if provides == "tigera-apiserver":
        facts.append("api:projectcalico.org/v3")
    if stage.slug in by_slug:
        facts.append(by_slug[stage.slug])
    return tuple(facts)


def stage_needs(stage: Stage, model: Model) -> tuple[str, ...]:
    """The facts a stage needs: its own `needs` tuple, else today's `requires` string mapped."""
    needs = getattr(stage, "needs", None)
    return tuple(needs) if needs is not None else _legacy_needs(stage, model)


def stage_provides(stage: Stage) -> tuple[str, ...]:
    """The facts a stage provides: its own `provides` tuple, else today's string mapped."""
    provides = getattr(stage, "provides", None)
    return provides if isinstance(provides, tuple) else _legacy_provides(stage)


# ---- facts ---------------------------------------------------------------------------------

def kind_of(fact: str) -> str:
    return fact.split(":", 1)[0]


def expand(facts: Iterable[str]) -> list[str]:
    """The facts and, transitively, what the cluster needs before each can hold."""
    out: list[str] = []
    todo = list(facts)
    while todo:
        fact = todo.pop(0)
        if fact not in out:
            out.append(fact)
            todo.extend(CONTROLLER_RULES.get(kind_of(fact), ()))
    return out


def wait_for(fact: str, model: Model) -> Wait:
    kind, _, arg = fact.partition(":")
    if kind not in WAITS:
        raise ValueError(f"no wait for the fact {fact!r} (renderer/bootstrap.py WAITS)")
    function, timeout, text = WAITS[kind]
    pools = model.values["nodepool"]
    stages = {stage.slug: stage for stage in model.stages}
    args: tuple[str, ...] = (arg,) if arg else ()
    pull = stages.get("pull-secrets")
    namespaces = pull.namespaces if pull else ()
    directory = ""
    if kind == "nodes":
        args = (str(pools["size"]),)
    elif kind == "pull-secret":
        args = tuple(namespaces)
    elif kind == "bypass":
        directory = next((s.directory for s in model.stages if fact in stage_provides(s)), "")
        args = (directory,)
    text = text.format(arg=arg, size=pools["size"], nodepool=pools["name"], namespaces=" and ".join(namespaces),
                       directory=directory)
    return Wait(fact, function, args, timeout, text)


# ---- the plan ------------------------------------------------------------------------------

def _stage_kind(stage: Stage, engine_delivered: bool) -> str:
    if engine_delivered:
        return "stage-engine"
    if stage.delivery == "bootstrap":
        return {"pull-secrets": "stage-pull-secret", "license": "stage-license"}[stage.slug]
    if stage.helm_chart:
        return "stage-helm"
    if stage.slug == "pull-secrets":
        return "stage-external-secrets"
    return "stage-apply"


def _engine_delivered(stages: tuple[Stage, ...], model: Model) -> set[str]:
    """Stages only the GitOps engine can apply: SOPS-encrypted ones, and those needing what they provide."""
    slugs = {stage.slug for stage in stages if stage.sops}
    changed = True
    while changed:
        facts = {fact for stage in stages if stage.slug in slugs for fact in stage_provides(stage)}
        more = {stage.slug for stage in stages if set(expand(stage_needs(stage, model))) & facts}
        changed = not more <= slugs
        slugs |= more
    return slugs


def _order(candidates: list[Step]) -> list[Step]:
    """Candidates in their given order, each moved after the providers of what it needs."""
    providers: dict[str, Step] = {}
    for step in candidates:
        for fact in step.provides:
            providers.setdefault(fact, step)
    placed: list[Step] = []
    visiting: set[str] = set()

    def place(step: Step) -> None:
        if step in placed:
            return
        if step.name in visiting:
            raise ValueError(f"the bootstrap steps need each other in a cycle at {step.name}")
        visiting.add(step.name)
        for fact in expand((*step.needs, *step.after)):
            provider = providers.get(fact)
            if provider is not None and provider is not step:
                place(provider)
        placed.append(step)

    for step in candidates:
        place(step)
    return placed


def _why(step: Step, steps: list[Step]) -> str:
    providers = {fact: other.name for other in steps for fact in reversed(other.provides)}
    parts = [f"{fact} (from {providers[fact]})" if fact in providers else f"{fact} (made by the cluster)"
             for fact in expand((*step.needs, *step.after))]
    return "after " + ", ".join(parts) if parts else ""


def plan(model: Model) -> Plan:
    values = model.values
    cluster, pools = values["cluster"], values["nodepool"]
    engine_label = " and ".join({"argocd": "Argo CD", "flux": "Flux"}[name] for name in model.engines)
    by_engine = _engine_delivered(model.stages, model)
    stage_facts = [fact for stage in model.stages for fact in stage_provides(stage)]
    handover_provides = [fact for stage in model.stages if stage.slug in by_engine for fact in stage_provides(stage)]
    candidates = [
        Step("preflight", "preflight", "tools, flags, rendered tree and secret files (no cloud call)"),
        Step("security-group", "security-group",
             f"security group {pools['securityGroups'][0]} and the ingress rules the nodes need"),
        Step("cluster", "cluster", f"SKS cluster {cluster['name']} without CNI and without nodes"),
        Step("kubeconfig", "kubeconfig", "admin kubeconfig, mode 0600, outside the repository"),
        Step("endpoint", "endpoint", "real endpoint of the kubernetes Service against apiServer in values"),
    ]
    for stage in model.stages:
        engine = stage.slug in by_engine
        by = "Flux" if stage.sops else engine_label  # only Flux decrypts SOPS here (README: Argo CD needs a plugin)
        title = f"stage {stage.position}: {stage.title}" + (f" (applied by {by})" if engine else "")
        needs = stage_needs(stage, model)
        candidates.append(Step(stage.directory, _stage_kind(stage, engine), title, () if engine else needs,
                               () if engine else stage_provides(stage), ("engine",) if engine else (),
                               stage=stage))
    candidates += [
        Step("nodepool", "nodepool", f"nodepool {pools['name']} ({pools['size']} nodes)", provides=("nodes",)),
        Step("health", "health", "wait until every tigerastatus is Available",
             needs=tuple(dict.fromkeys(stage_facts))),
        Step("handover", "handover", f"hand the applied stages over to {engine_label}"
             + (" (it applies what only it can)" if by_engine else ""), needs=("nodes",),
             provides=("engine", *handover_provides)),
    ]
    ordered = _order(candidates)
    steps = tuple(Step(step.name, step.kind, step.description, step.needs, step.provides, step.after,
                       _why(step, ordered), step.stage) for step in ordered)
    facts = dict.fromkeys(fact for step in steps for fact in step.needs)
    kinds = {stage.slug: stage.delivery for stage in model.stages}
    pull, license_ = kinds.get("pull-secrets") == "bootstrap", kinds.get("license") == "bootstrap"
    return Plan(steps=steps, waits={fact: wait_for(fact, model) for fact in facts},
                pull_by_bootstrap=pull, license_by_bootstrap=license_,
                helm=any(stage.helm_chart for stage in model.stages), engine_label=engine_label,
                tigerastatus=tuple(name for kind in tigera_kinds(values) for name in TIGERASTATUS.get(kind, ())))


def helm_values_json(stage: Stage) -> str:
    """The chart values as `helm get values --output json` prints them (Go's encoding/json: sorted
    keys, compact, <>& escaped; helm v3.18.0 pkg/cli/output/output.go EncodeJSON)."""
    text = json.dumps(stage.helm_chart.get("valuesInline", {}), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
