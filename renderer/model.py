"""Model stage: derive the facts templates need from validated values, once, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from renderer import stages as stages_
from renderer.stages import Stage


@dataclass(frozen=True)
class Model:
    """Everything a template may read: `v` (values with all defaults) and derived facts."""

    values: dict[str, Any]
    stages: tuple[Stage, ...]
    git_stages: tuple[Stage, ...]
    engines: tuple[str, ...]
    policy_tier: str
    kubernetes_minor: str
    bgp: bool
    """Calico peers with BGP: needed for IP-in-IP and unencapsulated pools, not for VXLAN."""

    @property
    def cluster(self) -> str:
        return str(self.values["cluster"]["name"])


def _version(text: str) -> tuple[int, int]:
    major, minor = text.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def derive_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Defaults that depend on other values (schema defaults are already filled in)."""
    values = {key: dict(section) if isinstance(section, dict) else section for key, section in data.items()}
    name = values["cluster"]["name"]
    values["nodepool"].setdefault("name", f"{name}-worker")
    values["nodepool"].setdefault("securityGroups", [name])
    values["storageClass"].setdefault("numberOfReplicas", values["longhorn"]["replicas"])
    values["gitops"].setdefault("path", f"out/{name}")
    tier = "calico-system" if _version(values["tigera"]["version"]) >= (3, 23) else "allow-tigera"
    values["bypass"].setdefault("tier", tier)
    return values


def build(data: dict[str, Any]) -> Model:
    values = derive_defaults(data)
    engine = values["gitops"]["engine"]
    engines = ("argocd", "flux") if engine == "both" else (engine,)
    stages = stages_.plan(values)
    return Model(
        values=values,
        stages=stages,
        git_stages=stages_.in_git(stages),
        engines=engines,
        policy_tier=values["bypass"]["tier"],
        kubernetes_minor=".".join(values["cluster"]["kubernetesVersion"].split(".")[:2]),
        bgp=not values["tigera"]["encapsulation"].startswith("VXLAN"),
    )
