"""The Jinja bytecode cache (renderer.cache.bytecode): reused only for the same source and settings, never fatal.

Every test points the cache at a temporary directory (SKS_GITOPS_CACHE_DIR), never ~/.cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from renderer import pipeline
from renderer.cache import bytecode
from renderer.render import jinja
from tests.conftest import PROD_VALUES


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.delenv("SKS_GITOPS_NO_CACHE", raising=False)
    monkeypatch.setenv("SKS_GITOPS_CACHE_DIR", str(root))
    return root


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "a.yaml.j2").write_text("a: {{ value | q }}\n", "utf-8")
    return folder


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every template compiled from source from now on."""
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def spy(self: jinja2.Environment, source: Any, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        compiled.append(str(name))
        return original(self, source, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", spy)
    return compiled


def _render(templates: Path, name: str = "a.yaml.j2", **context: Any) -> str:
    return jinja.make_environment(str(templates)).get_template(name).render(value="x", **context)


def test_a_second_process_reuses_the_compiled_template(cache: Path, templates: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _compiles(monkeypatch)
    assert _render(templates) == "a: x\n"
    assert compiled == ["a.yaml.j2"]
    entries = list(cache.glob("jinja-*/__jinja2_*.cache"))
    assert len(entries) == 1
    assert _render(templates) == "a: x\n"
    assert compiled == ["a.yaml.j2"]


def test_an_edited_template_is_compiled_again(cache: Path, templates: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _compiles(monkeypatch)
    source = templates / "a.yaml.j2"
    stat = source.stat()
    assert _render(templates) == "a: x\n"
    source.write_text("b: {{ value | q }}\n", "utf-8")  # same size, same mtime: only the content differs
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _render(templates) == "b: x\n"
    assert compiled == ["a.yaml.j2", "a.yaml.j2"]


def test_the_cache_directory_is_private_and_named_for_jinja_and_the_environment(cache: Path, templates: Path) -> None:
    _render(templates)
    (folder,) = cache.iterdir()
    assert folder.name.startswith(f"jinja-{jinja2.__version__}-ImmutableSandboxedEnvironment-")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert cache.stat().st_mode & 0o777 == 0o700


def test_other_compile_settings_get_another_directory(cache: Path, templates: Path) -> None:
    strict = jinja.make_environment(str(templates))
    loose = ImmutableSandboxedEnvironment(loader=jinja2.FileSystemLoader(str(templates)), trim_blocks=False)
    assert bytecode.directory(strict) != bytecode.directory(loose)


def test_a_filter_that_takes_the_context_gets_another_directory(cache: Path, templates: Path) -> None:
    """The compiler writes `context, ` into every call of a @pass_context filter: such code is not interchangeable."""
    plain = jinja.make_environment(str(templates))
    marked = jinja.make_environment(str(templates))
    marked.filters["q"] = jinja2.pass_context(lambda _context, value: value)
    extra = jinja.make_environment(str(templates))
    extra.filters["new"] = str
    assert len({bytecode.directory(plain), bytecode.directory(marked), bytecode.directory(extra)}) == 3


def test_no_cache_when_switched_off(cache: Path, templates: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKS_GITOPS_NO_CACHE", "1")
    env = jinja.make_environment(str(templates))
    assert env.bytecode_cache is None
    assert env.get_template("a.yaml.j2").render(value="x") == "a: x\n"
    assert not cache.exists()


def test_a_cache_location_that_cannot_be_a_directory_means_no_cache(tmp_path: Path, templates: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", "utf-8")
    monkeypatch.delenv("SKS_GITOPS_NO_CACHE", raising=False)
    monkeypatch.setenv("SKS_GITOPS_CACHE_DIR", str(blocker / "cache"))
    assert jinja.make_environment(str(templates)).bytecode_cache is None
    assert _render(templates) == "a: x\n"


def test_a_cache_others_may_write_to_is_not_used(cache: Path, templates: Path) -> None:
    cache.mkdir(mode=0o700)
    cache.chmod(0o777)
    assert jinja.make_environment(str(templates)).bytecode_cache is None


def test_a_cache_that_vanishes_or_breaks_is_not_fatal(cache: Path, templates: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    env = jinja.make_environment(str(templates))
    assert isinstance(env.bytecode_cache, bytecode.QuietBytecodeCache)
    folder = Path(env.bytecode_cache.directory)
    folder.rmdir()  # gone before the first template is stored
    assert env.get_template("a.yaml.j2").render(value="x") == "a: x\n"
    folder.mkdir(mode=0o700)
    _render(templates)
    (entry,) = folder.iterdir()
    entry.write_bytes(b"not bytecode")
    assert _render(templates) == "a: x\n"

    def unreadable(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(jinja2.FileSystemBytecodeCache, "load_bytecode", unreadable)
    assert _render(templates) == "a: x\n"


def test_template_errors_point_at_the_same_line_from_cached_code(cache: Path, templates: Path) -> None:
    (templates / "bad.yaml.j2").write_text("a: 1\nb: {{ missing.key }}\n", "utf-8")
    messages = []
    for _ in range(2):
        env = jinja.make_environment(str(templates))
        with pytest.raises(jinja2.UndefinedError) as caught:
            env.get_template("bad.yaml.j2").render()
        messages.append(jinja._location(caught.value, "fallback"))
    assert messages[0] == messages[1]
    assert messages[0][0].endswith("bad.yaml.j2") and messages[0][1] == 2


def test_the_real_templates_render_the_same_from_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tree() -> dict[str, str]:
        jinja.environment.cache_clear()
        return pipeline.prepare([PROD_VALUES], pipeline.Request(values_files=(PROD_VALUES,)), []).tree

    compiled = _compiles(monkeypatch)
    try:
        cold = tree()
        first = len(compiled)
        warm = tree()
    finally:
        jinja.environment.cache_clear()
    assert first > 0 and len(compiled) == first
    assert warm == cold
