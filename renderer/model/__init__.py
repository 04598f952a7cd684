"""Model stage: derive the facts templates need from validated values, once, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from renderer import versions
from renderer.model import facts, order, series
from renderer.model import stages as stages_
from renderer.model.meanings import Engine
from renderer.model.records import Values
from renderer.model.stages import Stage, tigera_kinds


@dataclass(frozen=True)
class Model:
    """Everything a template may read: `v` (the values records, all defaults filled in) and derived facts."""

    values: Values
    stages: tuple[Stage, ...]
    git_stages: tuple[Stage, ...]
    engines: tuple[Engine, ...]
    policy_tier: str
    kubernetes_minor: str
    bgp: bool
    """Calico peers with BGP: needed for IP-in-IP and unencapsulated pools, not for VXLAN."""
    rollout: tuple[order.Placed, ...]
    """The git stages as an engine delivers them: waves and dependencies (order.py)."""
    bootstrap: tuple[order.Placed, ...]
    """What the bootstrap applies itself, in order; the rest reaches the cluster after the handover."""
    tigera_series: tuple[int, int]
    tigera: facts.Series
    """The operator facts of the rendered release's series (renderer/model/series.py)."""
    bypass_order: int = 0
    operator_policy_order: int = facts.OPERATOR_POLICY_ORDER

    @property
    def ip_pool(self) -> dict[str, Any]:
        """The one IPv4 pool, with the series' operator defaults written out (Series.pool_defaults)."""
        tigera = self.values.tigera
        return {"name": facts.DEFAULT_POOL_NAME, "cidr": tigera.podCIDR, "encapsulation": tigera.encapsulation,
                "natOutgoing": "Enabled", "nodeSelector": "all()", **self.tigera.pool_defaults}

    @property
    def bypass_namespace_selector(self) -> str:
        """Calico selector for the bypass namespaces (projectcalico.org/name is set on every namespace)."""
        names = ", ".join(f"'{name}'" for name in self.values.bypass.namespaces)
        return f"projectcalico.org/name in {{{names}}}"

    def placed(self, stage: Stage) -> order.Placed:
        return next(placed for placed in self.rollout if placed.stage.position == stage.position)

    @property
    def cluster(self) -> str:
        return self.values.cluster.name


def derive_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Defaults that depend on other values (schema defaults are already filled in)."""
    values = {key: dict(section) if isinstance(section, dict) else section for key, section in data.items()}
    name = values["cluster"]["name"]
    values["nodepool"].setdefault("name", f"{name}-worker")
    values["nodepool"].setdefault("securityGroups", [name])
    values["storageClass"].setdefault("numberOfReplicas", values["longhorn"]["replicas"])
    values["gitops"].setdefault("path", f"out/{name}")
    if "hub" in values["gitops"]:
        values["gitops"]["hub"] = {"clusterName": name, **values["gitops"]["hub"]}
    values["bypass"].setdefault("tier", series.row(values["tigera"]["version"]).tier)
    return values


def build(data: dict[str, Any]) -> Model:
    """The model of validated values (validate.validate's data): records built once, facts derived from them."""
    values = Values.from_data(derive_defaults(data))
    tigera = series.row(values.tigera.version)
    components = tigera.components_for(tigera_kinds(values))
    engines = stages_.engines(values)
    stages = stages_.plan(values)
    git_stages = stages_.in_git(stages)
    handed_over = tuple(fact for stage in stages if stage.delivery == "bootstrap" for fact in stage.provides)
    environment = (*order.ENGINE_ENVIRONMENT, *handed_over)
    # An engine's own stage needs nothing another stage brings where that engine runs: it comes first, so an
    # engine upgrade never waits for the stages it delivers (order.ENGINE_RUNS).
    own = tuple(stage for stage in git_stages if stage.engine)
    rollout = sorted((*order.place(own, components, (*environment, *order.ENGINE_RUNS)),
                      *order.place(tuple(stage for stage in git_stages if not stage.engine), components,
                                   environment)),
                     key=lambda placed: (placed.wave, placed.stage.position))
    return Model(
        values=values,
        stages=stages,
        git_stages=git_stages,
        engines=engines,
        policy_tier=values.bypass.tier,
        kubernetes_minor=versions.minor(values.cluster.kubernetesVersion),
        bgp=not values.tigera.encapsulation.startswith("VXLAN"),
        rollout=tuple(rollout),
        bootstrap=order.place((*(stage for stage in stages if not stage.sops), stages_.NODEPOOL), components,
                              order.BOOTSTRAP_ENVIRONMENT, partial=True),
        tigera_series=versions.series(values.tigera.version),
        tigera=tigera,
    )
