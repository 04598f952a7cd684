"""The one Jinja environment: sandboxed, strict, and the only way templates become text.

Values reach templates only through the `q` filter (one safely quoted YAML scalar) or `to_yaml`
(a serialized subtree), so no value can add a key, a document or a line of its own. A template
error is a TemplateError located at the template's file and line (a bug, exit 3).
"""

from __future__ import annotations

import shlex
from functools import cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from renderer import resources, yamlio
from renderer.cache import bytecode
from renderer.errors import Problem, TemplateError


def _to_yaml(value: Any, indent: int = 0) -> str:
    """A subtree as block YAML, every line after the first indented by `indent` spaces."""
    text = yamlio.dump(value).rstrip("\n")
    return text.replace("\n", "\n" + " " * indent)


@cache
def environment() -> jinja2.Environment:
    return make_environment(str(resources.templates_dir()))


def make_environment(templates: str) -> jinja2.Environment:
    """The one sandboxed, strict environment, with compiled templates cached per user (renderer/cache/bytecode.py)."""
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
