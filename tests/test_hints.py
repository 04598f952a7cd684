"""Guidance in error messages (renderer/hints.py): closest values, quoted scalars, key paths of broken YAML."""

from __future__ import annotations

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
