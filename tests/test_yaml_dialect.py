"""The YAML dialect of values files and `--set`: YAML 1.2 core scalars, whatever ruamel.yaml would add.

renderer/yamlio/dialect.py decides it: no timestamps (a date stays the text it is), no YAML 1.1 octals or
booleans, and an integer too long for Python is refused where it is written.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from renderer import yamlio
from renderer.yamlio import LoadProblem, dialect


def _read(text: str) -> object:
    return yamlio.load_one(text.encode(), "v.yaml").data


@pytest.mark.parametrize(("scalar", "value"), [
    ("2024-01-01", "2024-01-01"),  # a timestamp in ruamel's default resolver: a date, refused downstream
    ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
    ("=", "="),  # ruamel's `value` tag, not in the 1.2 core schema
    ("030", 30),  # YAML 1.1 read 24 (octal)
    ("0o30", 24),
    ("yes", "yes"), ("on", "on"),  # YAML 1.1 booleans
    ("true", True), ("1.10", 1.1), ("~", None), ("0x1f", 31),
])
def test_scalars_read_as_the_yaml_1_2_core_schema_says(scalar: str, value: object) -> None:
    assert _read(f"key: {scalar}\n") == {"key": value}


def test_the_resolver_drops_exactly_timestamps_and_the_value_tag() -> None:
    tags = {tag for tag, _regexp, _first in dialect.CORE_IMPLICIT}
    assert {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}.isdisjoint(tags)
    assert {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:null", "tag:yaml.org,2002:merge"} <= tags  # `<<` stays, so that it can be refused


def test_a_yaml_1_1_directive_does_not_bring_back_1_1_scalars() -> None:
    with pytest.raises(LoadProblem, match="YAML"):
        _read("%YAML 1.1\n---\nkey: 030\n")
    assert dialect.CoreResolver().processing_version == (1, 2)


def test_a_date_tagged_explicitly_is_refused_at_its_value() -> None:
    with pytest.raises(LoadProblem) as refused:
        _read("cluster:\n  description: !!timestamp 2024-01-01\n")
    assert str(refused.value).startswith("v.yaml:2:16: error: cluster.description: ")


def test_an_integer_too_long_for_python_is_refused_where_it_is_written() -> None:
    digits = sys.get_int_max_str_digits()
    with pytest.raises(LoadProblem) as refused:
        _read("x:\n  y: " + "1" * (digits + 1) + "\n")
    assert str(refused.value).startswith(
        f"v.yaml:2:6: error: x.y: integer of {digits + 1} digits is too long (at most {digits})")
    assert _read("y: " + "1" * digits + "\n") == {"y": int("1" * digits)}  # the limit itself is fine


@pytest.fixture
def small_int_limit() -> Iterator[int]:
    before = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)  # the smallest Python allows
    try:
        yield 640
    finally:
        sys.set_int_max_str_digits(before)


def test_the_integer_limit_is_the_interpreters_at_load_time(small_int_limit: int) -> None:
    with pytest.raises(LoadProblem, match=f"integer of {small_int_limit + 1} digits is too long "
                                          f"\\(at most {small_int_limit}\\)"):
        _read("n: " + "7" * (small_int_limit + 1) + "\n")
