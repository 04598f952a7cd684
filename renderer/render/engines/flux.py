"""Flux: a GitRepository and one Kustomization per stage, chained with dependsOn.

Longhorn is a HelmRepository + HelmRelease behind its own Kustomization, so the chain
stays one kind (Kustomization dependsOn only names Kustomizations).
"""

from __future__ import annotations

import re
from typing import Any

from renderer.model import Model, health
from renderer.model.stages import Stage, longhorn_values
from renderer.render.engines.common import app_name, kustomization, stage_path
from renderer.render.jinja import render_template

_SCP = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>.+)$")


def flux_url(url: str) -> str:
    """Flux accepts ssh:// URLs only; rewrite scp-style git@host:path."""
    match = _SCP.match(url)
    if not match:
        return url
    return f"ssh://{match['user']}@{match['host']}/{match['path'].lstrip('/')}"


def render(model: Model) -> dict[str, str]:
    values = model.values
    context: dict[str, Any] = {"v": values, "m": model, "source_name": model.cluster,
                               "namespace": values.gitops.fluxNamespace}
    url = flux_url(values.gitops.repoURL)
    tree = {"flux/gitrepository.yaml": render_template(
        "flux/gitrepository.yaml.j2", url=url, secret_ref=git_secret(model, url), **context)}
    files = ["gitrepository.yaml"]
    for placed in model.rollout:
        stage = placed.stage
        path = stage_path(model, stage)
        if stage.helm_chart:
            path = f"{values.gitops.path}/flux/{stage.slug}"
            tree.update(_helm_release(model, stage, context))
        tree[f"flux/{stage.directory}.yaml"] = render_template(
            "flux/kustomization-stage.yaml.j2", stage=stage, name=app_name(model, stage), path=path,
            depends_on=[app_name(model, dependency) for dependency in placed.depends_on],
            waits_for=placed.waits_for, wait=stage.done == "healthy",
            health_exprs=[health.operator_cel(kind) for kind in stage.kinds], **context)
        files.append(f"{stage.directory}.yaml")
    tree["flux/kustomization.yaml"] = kustomization(files)
    return tree


def git_secret(model: Model, url: str) -> str:
    """Secret the GitRepository authenticates with: ssh:// always needs `identity` and `known_hosts`
    (fluxcd/source-controller v1.9.1 internal/controller/gitrepository_controller.go); a private
    https repository names one in values, or gets `flux-system` when the bootstrap creates it."""
    configured = model.values.gitops.fluxSecretName or ""
    by_bootstrap = model.values.secrets.gitCredentials.provider == "bootstrap"
    if configured or not (url.startswith("ssh://") or by_bootstrap):
        return configured
    return "flux-system"


def _helm_release(model: Model, stage: Stage, context: dict[str, Any]) -> dict[str, str]:
    chart = stage.helm_chart
    base = f"flux/{stage.slug}"
    return {
        f"{base}/helmrepository.yaml": render_template("flux/helmrepository.yaml.j2", chart=chart, **context),
        f"{base}/helmrelease.yaml": render_template(
            "flux/helmrelease.yaml.j2", chart=chart, chart_values=longhorn_values(model.values), **context),
        f"{base}/kustomization.yaml": kustomization(["helmrepository.yaml", "helmrelease.yaml"]),
    }
