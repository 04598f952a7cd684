"""Guidance in error messages (renderer/hints.py): closest values, quoted scalars, key paths of broken YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer import hints, load
from renderer.errors import ValuesError

ZONES = ["ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1", "hr-zag-1"]


@pytest.mark.parametrize(("typed", "meant"), [
    ("at-vei-1", "at-vie-1"), ("AT-VIE-1", "at-vie-1"), ("ch-gva2", "ch-gva-2"), ("vxlan", "VXLAN"),
    ("mars-1", None), (3, None),
])
def test_closest_value(typed: object, meant: str | None) -> None:
    options = ZONES if meant != "VXLAN" else ["VXLAN", "VXLANCrossSubnet", "IPIP", "None"]
    assert hints.closest(typed, options) == meant
    assert hints.did_you_mean(typed, options) == (f' (did you mean "{meant}"?)' if meant else "")


@pytest.mark.parametrize(("expected", "value", "hint"), [
    ("integer", "30925", "remove the quotes: 30925 without quotes is an integer"),
    ("integer", "3.5", ""),
    ("integer", "three", ""),
    ("number", "1.5", "remove the quotes: 1.5 without quotes is a number"),
    ("boolean", "false", "remove the quotes: false without quotes is a boolean"),
    ("boolean", "True", "write true without quotes (YAML booleans are lower case)"),
    ("boolean", "on", "write true or false: values files are YAML 1.2, where yes/no/on/off are strings"),
    ("string", "3", ""),
    ("integer", 3.0, ""),
])
def test_quoted_scalar_hint(expected: str, value: object, hint: str) -> None:
    assert hints.quoted_scalar_hint(expected, value) == hint


TEXT = """\
cluster:
  name: demo
nodepool:
  taints:
    - key: a
      value: b
    - key: c
      effect: x
  labels:
    # a comment at another indentation
    role: calico
"""


@pytest.mark.parametrize(("line", "path"), [
    (0, "cluster"), (1, "cluster.name"), (3, "nodepool.taints"), (4, "nodepool.taints[0].key"),
    (5, "nodepool.taints[0].value"), (7, "nodepool.taints[1].effect"), (10, "nodepool.labels.role"),
])
def test_key_path_from_indentation(line: int, path: str) -> None:
    assert hints.key_path_at(TEXT.splitlines(), line) == path


def test_syntax_error_shows_the_key_path_the_line_and_a_caret() -> None:
    with pytest.raises(ValuesError) as caught:
        load.parse(b"cluster:\n  name: demo\ntigera:\n  version: v3: 19\n", "v.yaml")
    assert str(caught.value) == ("v.yaml:4:14: error: tigera.version: mapping values are not allowed here\n"
                                 "      version: v3: 19\n"
                                 "                 ^")


def test_the_caret_stays_under_the_column_when_the_line_holds_escaped_characters() -> None:
    with pytest.raises(ValuesError) as caught:
        load.parse('a:\n  b: "\u200b" c: d\n'.encode(), "v.yaml")
    first, source, caret = str(caught.value).splitlines()
    assert first == "v.yaml:2:11: error: a.b: mapping values are not allowed here"
    assert source == '      b: "\\u200b" c: d'  # printed escaped, so the terminal shows what is there
    assert caret.index("^") == source.index(": d")


@pytest.mark.parametrize(("text", "first", "hint"), [
    ("a:\n  b:\tc\n", "v.yaml:2:5: error: a.b: tab between a key and its value; YAML separates tokens with spaces, "
                      "never tabs", "replace the tab at column 5 with a space"),
    ("a:\n  -\tc\n", "v.yaml:2:4: error: a[0]: tab after a list item's dash; YAML separates tokens with spaces, "
                     "never tabs", "replace the tab at column 4 with a space"),
])
def test_a_tab_separator_gets_a_located_message_and_a_fix(text: str, first: str, hint: str) -> None:
    """ruamel's own text ("found character '\\t' that cannot start any token") says what, not how to fix."""
    with pytest.raises(ValuesError) as caught:
        load.parse(text.encode(), "v.yaml")
    lines = str(caught.value).splitlines()
    assert lines[0] == first
    assert lines[-1] == f"  hint: {hint}"
    assert "cannot start any token" not in str(caught.value)


@pytest.mark.parametrize(("encoding", "named"), [
    ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE"), ("utf-32", "UTF-32"),
    ("utf-32-le", "UTF-32LE"), ("utf-32-be", "UTF-32BE"),
])
def test_a_utf16_or_utf32_file_is_named_and_the_fix_given(encoding: str, named: str) -> None:
    with pytest.raises(ValuesError) as caught:
        load.parse("# Notepad\ncluster:\n  name: demo\n".encode(encoding), "my values.yaml")
    assert str(caught.value).splitlines() == [
        f"my values.yaml:1:1: error: file is encoded as {named}; values files are UTF-8",
        f"  hint: save it as UTF-8: \"Save with encoding\" in the editor, or iconv -f {named} -t UTF-8 "
        "'my values.yaml' > 'my values.yaml.utf8' and rename it",
    ]


def test_a_nul_byte_in_a_utf8_file_is_not_taken_for_utf16() -> None:
    assert hints.wide_encoding(b"cluster:\n  name: a\x00b\n") == ""


@pytest.mark.parametrize(("validator", "rule", "value", "hint"), [
    ("type", "string", 1.31, 'quote it and write it in full, e.g. "1.31.2" (unquoted, YAML reads 1.31 as a number)'),
    ("type", "string", 1, 'quote it and write it in full, e.g. "1.31.2" (unquoted, YAML reads 1 as a number)'),
    ("pattern", r"^1\.[0-9]{1,3}\.[0-9]{1,3}$", "v1.31.1", 'drop the v: "1.31.1" (written without v here)'),
    ("pattern", r"^v[0-9]+\.[0-9]+\.[0-9]+$", "3.19.2", 'add the v: "v3.19.2" (written with v here)'),
    ("pattern", r"^1\.[0-9]{1,3}\.[0-9]{1,3}$", "1.31", ""),
])
def test_version_hints_are_consistent_both_ways(validator: str, rule: str, value: object, hint: str) -> None:
    """Kubernetes versions are written without v (as `exo compute sks versions` prints them), Calico
    Enterprise releases with it (their download paths): each refusal says which, in the same words."""
    node = {"type": "string", "pattern": r"^1\.[0-9]{1,3}\.[0-9]{1,3}$",
            "description": 'Kubernetes version (MAJOR.MINOR.PATCH, e.g. "1.31.2").'}
    assert hints.schema_hint(validator, rule, value, node) == hint


def test_a_missing_values_file_names_the_closest_one(tmp_path: Path) -> None:
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "prod.yaml").write_text("a: 1\n", "utf-8")
    (tmp_path / "values" / "base.yaml").write_text("a: 1\n", "utf-8")
    for typed in ("values/prd.yaml", "valeus/prod.yaml", "values/prod.yml", "values/prod"):
        with pytest.raises(ValuesError) as caught:
            load.read_file(tmp_path / typed)
        assert caught.value.problems[0].message == "file not found"
        assert caught.value.problems[0].hint == f"did you mean {tmp_path / 'values' / 'prod.yaml'}?", typed
    with pytest.raises(ValuesError) as caught:
        load.read_file(tmp_path / "values" / "staging.yaml")
    assert caught.value.problems[0].hint == ""
