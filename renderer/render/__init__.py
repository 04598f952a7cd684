"""Render stage: Jinja templates + model -> {relative path: text}, entirely in memory.

The stage directories here, each engine's delivery objects in engines/, the bootstrap script's
plan in bootstrap.py; every template goes through the one environment of jinja.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from renderer import resources, yamlio
from renderer.model import Model
from renderer.model.stages import Stage
from renderer.render import bootstrap
from renderer.render.engines import ENGINES, argocd
from renderer.render.jinja import render_template
from renderer.render.tree import Tree


def _kustomization(stage: Stage, resources_: list[str], vendored: Mapping[str, str]) -> str:
    body: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if stage.namespace:
        body["namespace"] = stage.namespace
    listed = [*resources_, *(vendored.get(url, url) for url in stage.remote), *stage.extra_resources]
    if listed:
        body["resources"] = listed
    if stage.patches:
        body["patches"] = [dict(patch) for patch in stage.patches]
    if stage.helm_chart:
        body["helmCharts"] = [dict(stage.helm_chart)]
    header = f"# Stage {stage.position}: {stage.title}. Rendered by sks-gitops; edit values/, not this file.\n"
    return header + yamlio.dump(body)


def render_stages(model: Model, vendored: Mapping[str, str] | None = None) -> Tree:
    tree: Tree = {}
    context = {"v": model.values, "m": model}
    for stage in model.git_stages:
        files = []
        for template in stage.templates:
            text = render_template(f"stages/{stage.slug}/{template}.j2", stage=stage, **context)
            if text.strip():
                tree[f"{stage.directory}/{template}"] = text
                files.append(template)
        if stage.engine == "argocd":  # the health checks the tree relies on, merged into the engine's argocd-cm
            tree[f"{stage.directory}/argocd-cm.yaml"] = argocd.health_configmap(model, in_stage=True)
        tree[f"{stage.directory}/kustomization.yaml"] = _kustomization(stage, files, vendored or {})
    return tree


def render(model: Model, vendored: Mapping[str, str] | None = None) -> Tree:
    """The whole tree of one cluster, paths relative to out/<cluster>/, sorted; `vendored` maps a remote
    manifest URL to the vendored directory its stage names instead (renderer/remote/vendor.py)."""
    tree = render_stages(model, vendored)
    for engine in model.engines:
        tree.update(ENGINES[engine](model))
    if resources.templates_dir().joinpath("bootstrap.sh.j2").is_file():
        tree["bootstrap.sh"] = render_template("bootstrap.sh.j2", v=model.values, m=model, b=bootstrap.plan(model))
    return dict(sorted(tree.items()))
