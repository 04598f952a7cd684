"""Jinja runs sandboxed and strict; values enter templates only as safely quoted scalars.

Templates here are written to a scratch templates/ directory that renderer.resources is
pointed at; `jinja.environment` is a functools.cache, so it is cleared before and after.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml as pyyaml  # YAML 1.1 reader: what an old tool would make of the same text
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from renderer import leaks, load, model, resources, validate, yamlio
from renderer.errors import TemplateError, ValuesError
from renderer.leaks import redact
from renderer.model import records
from renderer.render import jinja
from tests.conftest import PROD_VALUES, REPO_ROOT
from tests.support.budget import examples

MARKER = "sks-gitops-sandbox-marker-7f3a"

Write = Callable[[str, str], None]


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Write]:
    """A fresh sandboxed environment over tmp/templates/; a marker file sits just outside it."""
    root = tmp_path / "templates"
    root.mkdir()
    (tmp_path / "secret.txt").write_text(MARKER + "\n")
    jinja.environment.cache_clear()
    monkeypatch.setattr(resources, "templates_dir", lambda: root)

    def write(name: str, text: str) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")

    try:
        yield write
    finally:
        jinja.environment.cache_clear()


def _values() -> records.Values:
    """What templates read as `v`: the model's records of the prod values."""
    data, _ = validate.validate(load.load([PROD_VALUES]))
    return model.build(data).values


def _fails(name: str, **context: Any) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        jinja.render_template(name, **context)
    return caught.value


ESCAPES = {
    "str-class-mro": "{{ ''.__class__.__mro__ }}",
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "value-class": "{{ v.__class__ }}",
    "cycler-globals": "{{ cycler.__init__.__globals__ }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].environ }}",
    "namespace-globals": "{{ namespace.__init__.__globals__ }}",
    "attr-filter": "{{ ''|attr('__class__') }}",
    "self-context": "{{ self._TemplateReference__context }}",
    "function-code": "{{ range.__code__ }}",
    "os-environ": "{{ os.environ }}",
    "environ": "{{ environ['HOME'] }}",
    "config-dict": "{{ config.items() }}",
    "dict-mutation": "{{ v.cluster.update({'name': 'evil'}) }}",
    "list-mutation": "{{ v.bypass.namespaces.append('kube-system') }}",
    "list-pop": "{{ v.bypass.namespaces.pop() }}",
    "map-internals": "{{ v.nodepool.labels._items.clear() }}",
    "record-setattr": "{{ v.cluster.__setattr__('name', 'evil') }}",
    "format-string": "{{ '{0.__class__}'.format(v) }}",
    "format-map": "{{ '{x.__class__}'.format_map({'x': v}) }}",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_sandbox_blocks_escapes(name: str, templates: Write) -> None:
    templates("escape.yaml.j2", f"a: 1\nb: {ESCAPES[name]}\n")
    data = _values()
    before = repr(data)
    error = _fails("escape.yaml.j2", v=data)
    (problem,) = error.problems
    assert problem.file == "templates/escape.yaml.j2"
    assert problem.line == 2
    assert any(word in problem.message for word in ("SecurityError", "UndefinedError", "unsafe", "undefined")), \
        problem.message
    assert os.environ.get("PATH", "/usr/bin:/bin") not in problem.message
    assert repr(data) == before, "a template changed the values"


def test_environment_exposes_no_dangerous_globals_or_filters(templates: Write) -> None:
    env = jinja.environment()
    assert type(env).__name__ == "ImmutableSandboxedEnvironment"
    assert env.undefined.__name__ == "StrictUndefined"
    assert set(env.globals) <= {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}
    assert {"q", "to_yaml", "sh"} <= set(env.filters)
    assert not env.autoescape  # YAML, not HTML: quoting is the q filter's job


@pytest.mark.parametrize("how", ["include-relative", "include-absolute", "import-relative", "extends-relative",
                                 "include-dot-segments", "include-backslash"])
def test_templates_cannot_read_outside_the_templates_directory(how: str, templates: Write, tmp_path: Path) -> None:
    target = {
        "include-relative": "{% include '../secret.txt' %}",
        "include-absolute": f"{{% include '{tmp_path / 'secret.txt'}' %}}",
        "import-relative": "{% import '../secret.txt' as s %}",
        "extends-relative": "{% extends '../secret.txt' %}",
        "include-dot-segments": "{% include 'a/../../secret.txt' %}",
        "include-backslash": "{% include '..\\\\secret.txt' %}",
    }[how]
    templates("read.yaml.j2", f"a: 1\n{target}\n")
    templates("a/keep.txt", "inside\n")
    error = _fails("read.yaml.j2")
    assert "TemplateNotFound" in error.problems[0].message
    assert MARKER not in str(error)


def test_include_etc_passwd_is_not_found(templates: Write) -> None:
    templates("passwd.yaml.j2", "{% include '../../../../../../etc/passwd' %}\n{% include '/etc/passwd' %}\n")
    error = _fails("passwd.yaml.j2")
    assert "TemplateNotFound" in error.problems[0].message
    assert "root:" not in str(error)


def test_include_inside_the_directory_still_works(templates: Write) -> None:
    templates("part.yaml.j2", "b: {{ v.cluster.name | q }}\n")
    templates("main.yaml.j2", "a: 1\n{% include 'part.yaml.j2' %}")
    assert jinja.render_template("main.yaml.j2", v=_values()) == "a: 1\nb: ceosks-poc\n"


@pytest.mark.parametrize(("body", "line", "words"), [
    ("a: 1\nb: 2\nc: {{ nope }}\n", 3, "'nope' is undefined"),
    ("a: {{ v.cluster.nmae }}\n", 1, "nmae"),
    ("a: 1\n{% if v.missing %}\nb: 2\n{% endif %}\n", 2, "missing"),
    ("{% for x in v.nothing %}\n- {{ x }}\n{% endfor %}\n", 1, "nothing"),
    ("a: {{ v.cluster.name ~ undefined_suffix }}\n", 1, "undefined_suffix"),
])
def test_undefined_names_raise_with_file_and_line(body: str, line: int, words: str, templates: Write) -> None:
    templates("strict.yaml.j2", body)
    error = _fails("strict.yaml.j2", v=_values())
    (problem,) = error.problems
    assert (problem.file, problem.line) == ("templates/strict.yaml.j2", line), problem
    assert "UndefinedError" in problem.message and words in problem.message
    assert error.exit_code == 3


def test_undefined_in_an_included_template_names_the_included_file(templates: Write) -> None:
    templates("inner.yaml.j2", "x: 1\ny: {{ missing_inner }}\n")
    templates("outer.yaml.j2", "a: 1\nb: 2\n{% include 'inner.yaml.j2' %}")
    (problem,) = _fails("outer.yaml.j2").problems
    assert (problem.file, problem.line) == ("templates/inner.yaml.j2", 2), problem


def test_a_broken_template_is_a_template_error(templates: Write) -> None:
    templates("syntax.yaml.j2", "a: 1\nb: {{ v.cluster.name | q \n")
    (problem,) = _fails("syntax.yaml.j2", v=_values()).problems
    assert problem.file == "templates/syntax.yaml.j2" and problem.line == 2
    assert "TemplateSyntaxError" in problem.message


def test_default_filter_is_the_only_way_past_strict_undefined(templates: Write) -> None:
    templates("default.yaml.j2", "a: {{ v.cluster.missing | default('fallback') | q }}\n")
    assert jinja.render_template("default.yaml.j2", v=_values()) == "a: fallback\n"


# --------------------------------------------------------------------------- free text through the q filter


def _free_text_paths() -> list[str]:
    """String values constrained by nothing but length: the ones a property test must cover."""
    schema = validate.values_schema()
    found = []

    def walk(node: dict[str, Any], path: str) -> None:
        while "$ref" in node:
            target: Any = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        if node.get("type") == "string" and not ({"pattern", "enum", "format", "const"} & set(node)):
            found.append(path)
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{key}" if path else key)
        for key in ("additionalProperties", "items"):
            if isinstance(node.get(key), dict):
                walk(node[key], f"{path}.*")

    walk(schema, "")
    return found


def test_cluster_description_is_the_only_free_text_value_a_template_reads() -> None:
    """The acknowledgements of destructive edits are free text too, but no template reads them: they reach
    only the PR markdown (renderer/cli/approvals.py), through its escaping."""
    assert _free_text_paths() == ["cluster.description", "acknowledge.*.from", "acknowledge.*.to",
                                  "acknowledge.*.reason"]
    templates = [path for path in (REPO_ROOT / "templates").rglob("*.j2")
                 if "acknowledge" in path.read_text("utf-8")]
    assert templates == []


TRICKY = ["", " ", "line\nbreak", "a\nb: c", "a: b", "- x", "---", "...", "#", "a #b", "'", '"', "\\", "{{ x }}",
          "{% raw %}", "yes", "on", "no", "off", "y", "n", "true", "True", "null", "Null", "~", "1.10", "0x1F", "0o17",
          "0755", "1e3", "1_000", ".inf", "-.inf", ".nan", "2024-01-01", "12:30:45", "=", "<<", "*alias", "&anchor",
          "!tag", "!!python/object:os.system", "%YAML 1.1", "@", "`", "|", ">", "[a, b]", "{a: b}", "?", ": ",
          " leading", "trailing ", "\t", "\r\n", "\x00", "\x1b[31m", "\x85", "\u2028", "\u202e", "\u200b",
          "\ufeff", "\ud800", "café", "Ελληνικά", "עברית", "日本語", "a" * 255]
ASTRAL = ["\U0001F600", "a\U00010000b", "\U0010FFFF"]
BMP_TEXT = st.text(alphabet=st.characters(max_codepoint=0xFFFF), max_size=300)
ALL_TEXT = st.text(max_size=300)


def _admitted_description(text: str) -> bool:
    data = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data
    data["cluster"]["description"] = text
    try:
        validate.validate(load.LocatedValues(data=data, origins={}, sources=("prod.yaml",)))
    except ValuesError:
        return False
    return True


def _assert_round_trip(text: str) -> None:
    quoted = yamlio.scalar(text)
    assert "\n" not in quoted and "\r" not in quoted, "q must give one line"
    document = f"before: 1\ndescription: {quoted}\nafter: 2\nlist:\n  - {quoted}\n"
    assert yamlio.load_all_plain(document) == [{"before": 1, "description": text, "after": 2, "list": [text]}]
    if quoted != text:  # quoted: a YAML 1.1 reader sees the same string too (no yes/on/1.10 surprises)
        assert quoted.startswith('"')
        assert pyyaml.safe_load(f"d: {quoted}\n") == {"d": text}
    else:
        assert pyyaml.safe_load(f"d: {quoted}\n") == {"d": text}, "a plain scalar must mean a string in YAML 1.1"


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.sampled_from(TRICKY), BMP_TEXT, st.lists(st.sampled_from(TRICKY), max_size=6).map("".join)))
def test_description_is_rejected_or_round_trips_through_q(text: str) -> None:
    if not _admitted_description(text):  # too long, odd text (control, surrogate, bidi) or secret-shaped
        assert len(text) > 255 or redact.odd_text(text) or leaks.labels(text), repr(text)
        return
    _assert_round_trip(text)


@settings(max_examples=examples(50), deadline=None, phases=[Phase.explicit, Phase.generate])
@given(ALL_TEXT.filter(lambda text: any(ord(ch) > 0xFFFF for ch in text)))
@example("\U0001F600")
def test_description_with_astral_characters_round_trips(text: str) -> None:
    if _admitted_description(text):
        _assert_round_trip(text)


@pytest.mark.parametrize("text", ASTRAL, ids=["emoji", "linear-b", "max-code-point"])
def test_astral_examples_round_trip(text: str) -> None:
    _assert_round_trip(text)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.sampled_from(TRICKY), BMP_TEXT))
def test_a_template_line_with_q_adds_no_key_and_no_document(templates: Write, text: str) -> None:
    templates("free.yaml.j2", "kind: Probe\nmetadata:\n  name: x\n  annotations:\n"
                              "    description: {{ v.cluster.description | q }}\nspec:\n  after: {{ 1 | q }}\n")
    if not _admitted_description(text):
        return
    rendered = jinja.render_template("free.yaml.j2", v={"cluster": {"description": text}})
    documents = yamlio.load_all_plain(rendered)
    assert documents == [{"kind": "Probe", "metadata": {"name": "x", "annotations": {"description": text}},
                          "spec": {"after": 1}}]
