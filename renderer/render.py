"""Render stage: Jinja templates + model -> {relative path: text}, entirely in memory.

One sandboxed, strict environment per process. Values reach templates only through
the `q` filter (one safely quoted YAML scalar) or `to_yaml` (a serialized subtree), so
no value can add a key, a document or a line of its own.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from renderer import bootstrap, bytecode, resources, yamlio
from renderer.errors import Problem, TemplateError
from renderer.model import Model
from renderer.stages import Stage

Tree = dict[str, str]


def _to_yaml(value: Any, indent: int = 0) -> str:
    """A subtree as block YAML, every line after the first indented by `indent` spaces."""
    text = yamlio.dump(value).rstrip("\n")
    return text.replace("\n", "\n" + " " * indent)


@cache
def environment() -> jinja2.Environment:
    return make_environment(str(resources.templates_dir()))


def make_environment(templates: str) -> jinja2.Environment:
    """The one sandboxed, strict environment, with compiled templates cached per user (bytecode.py)."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(templates),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = yamlio.scalar
    env.filters["to_yaml"] = _to_yaml
    env.filters["sh"] = shlex.quote
    bytecode.attach(env)
    return env


def _location(exc: BaseException, fallback: str) -> tuple[str, int]:
    """The template file and line a Jinja error came from (the innermost template frame)."""
    name, line = fallback, getattr(exc, "lineno", None) or 0
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            name, line = filename.split("templates/")[-1], tb.tb_lineno
        tb = tb.tb_next
    return name, line


def render_template(template: str, **context: Any) -> str:
    try:
        return environment().get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        file, line = _location(exc, f"templates/{template}")
        raise TemplateError(Problem(f"templates/{file.removeprefix('templates/')}", line, 0, "",
                                    f"{type(exc).__name__}: {exc}")) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        file, line = _location(exc, f"templates/{template}")
        raise TemplateError(Problem(f"templates/{file.removeprefix('templates/')}", line, 0, "",
                                    f"{type(exc).__name__}: {exc}")) from None


def _kustomization(stage: Stage, resources_: list[str], vendored: Mapping[str, str]) -> str:
    body: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
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
        tree[f"{stage.directory}/kustomization.yaml"] = _kustomization(stage, files, vendored or {})
    return tree


EngineRenderer = Callable[[Model], Tree]


def _engine_renderers() -> dict[str, EngineRenderer]:
    from renderer.engines import ENGINES

    return ENGINES


def render(model: Model, vendored: Mapping[str, str] | None = None) -> Tree:
    """The whole tree of one cluster, paths relative to out/<cluster>/, sorted; `vendored` maps a remote
    manifest URL to the vendored directory its stage names instead (renderer/vendor.py)."""
    tree = render_stages(model, vendored)
    for engine in model.engines:
        tree.update(_engine_renderers()[engine](model))
    if resources.templates_dir().joinpath("bootstrap.sh.j2").is_file():
        tree["bootstrap.sh"] = render_template("bootstrap.sh.j2", v=model.values, m=model, b=bootstrap.plan(model))
    return dict(sorted(tree.items()))
