"""The output side of the YAML factory: deterministic dumping, one-line scalars, fast parse-back.

Strings that a YAML 1.1 reader would take for a bool, null, number or date are always
written quoted, so rendered output reads the same under YAML 1.1 and 1.2.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from renderer.cache.memo import Memo

_AMBIGUOUS = re.compile(
    r"""^(
        y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
        |null|Null|NULL|~|
        |[-+]?[0-9][0-9_:.eExXoObB+-]*          # anything number-, octal-, time- or date-like
        |[-+]?\.[0-9].*|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)
        |<<|=
    )$""",
    re.VERBOSE,
)
_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_PLAIN_SAFE = re.compile(r"^[A-Za-z_/.][A-Za-z0-9._/@()=+-]*$")


def load_all_plain(text: str) -> list[Any]:
    """Parse rendered output back (YAML 1.2, safe, duplicate keys rejected) into plain data."""
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = False
    return list(yaml.load_all(text))


@cache
def _output_loader() -> Any:
    """PyYAML's libyaml loader (kubernetes-validate's own dependency), rejecting duplicate keys.

    Rendered output is written to read the same under YAML 1.1 and 1.2 (a test proves it), so
    the check stage may parse it with libyaml: about 8x faster than the pure-Python reader."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    scalar_node, str_tag = yaml.ScalarNode, "tag:yaml.org,2002:str"

    class StrictLoader(base):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _value in node.value:
                if type(key_node) is scalar_node and key_node.tag == str_tag:
                    key = key_node.value  # what construct_yaml_str would return, without the call
                else:
                    key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    mark = key_node.start_mark
                    raise ValueError(f"duplicate key {key!r} at line {mark.line + 1}, column {mark.column + 1}")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))


class _Unusual(Exception):
    """Something the direct conversion leaves to PyYAML's own constructor: an alias, a merge key, another tag."""


def _direct(text: str) -> list[Any] | None:
    """Every document converted directly, or None when any part needs the strict loader."""
    import yaml

    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    loader = _output_loader()(text)
    constructors = loader.yaml_constructors
    seen: set[int] = set()

    def convert(node: Any) -> Any:
        """One node as plain data, each scalar through the constructor PyYAML itself would pick."""
        kind, tag = type(node), node.tag
        if kind is scalar_node:
            if tag == _TAG + "str":
                return node.value
            if tag not in _SCALAR_TAGS:
                raise _Unusual
            return constructors[tag](loader, node)
        if id(node) in seen:  # an alias: PyYAML shares the object (or builds a cycle)
            raise _Unusual
        seen.add(id(node))
        if kind is mapping_node and tag == _TAG + "map":
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if type(key_node) is not scalar_node:
                    raise _Unusual
                key = convert(key_node)
                if key in result:  # reported by the strict loader, with its location
                    raise _Unusual
                result[key] = convert(value_node)
            return result
        if kind is sequence_node and tag == _TAG + "seq":
            return [convert(item) for item in node.value]
        raise _Unusual

    try:
        documents = []
        while loader.check_node():
            seen.clear()
            documents.append(convert(loader.get_node()))
        return documents
    except Exception:  # noqa: BLE001 - any error is reported by the strict loader, exactly as before
        return None
    finally:
        loader.dispose()


def parse_output(text: str) -> list[Any]:
    """Parse rendered output back into plain data (duplicate keys rejected), fast.

    libyaml composes the nodes; plain mappings, sequences and core scalars are converted
    directly (PyYAML's generic constructor spends as long again on bookkeeping). Anything
    else, and every error, goes through the strict loader, which gives the result or the
    error exactly as before."""
    import yaml

    documents = _direct(text)
    return list(yaml.load_all(text, Loader=_output_loader())) if documents is None else documents


class _Representer(RoundTripRepresenter):
    def represent_str(self, data: str) -> Any:
        style = None
        if "\n" in data:
            lines = data.split("\n")
            style = "|" if all(line == line.rstrip() and line.isprintable() for line in lines) else '"'
        elif not _PLAIN_SAFE.fullmatch(data) or _AMBIGUOUS.fullmatch(data):
            style = '"'
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Representer.add_representer(str, _Representer.represent_str)


def _dumper() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Representer = _Representer
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False
    return yaml


_PLAIN_TYPES = (str, int, float, bool, type(None))
_DUMPS: Memo[str] = Memo()
"""Dumped YAML by the exact repr of plain data: a fleet dumps the same kustomizations again and again."""


def _plain_repr(data: Any) -> str | None:
    """A key that determines `dump`'s output: repr of plain data (exact types, no shared containers).

    None for anything else: a subclass may dump differently under the same repr, and a container
    reached twice would be written as an anchor and alias where an equal copy would not."""
    seen: set[int] = set()
    pending = [data]
    while pending:
        node = pending.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if id(node) in seen or len(seen) > 10_000:
                return None
            seen.add(id(node))
            if kind is dict:
                if any(type(key) not in _PLAIN_TYPES for key in node):
                    return None
                pending.extend(node.values())
            else:
                pending.extend(node)
        elif kind not in _PLAIN_TYPES:
            return None
    return repr(data)


def dump(data: Any) -> str:
    """Deterministic block YAML of plain data (key order as given)."""
    key = _plain_repr(data)
    if key is not None:
        found = _DUMPS.get(key)
        if found is not None:
            return found
    stream = io.StringIO()
    _dumper().dump(data, stream)
    text = stream.getvalue()
    return text if key is None else _DUMPS.put(key, text, len(key))


def _double_quoted(text: str) -> str:
    """A YAML double-quoted scalar: JSON escapes, but \\UXXXXXXXX beyond the BMP (not surrogate pairs)."""
    if not _BEYOND_BMP.search(text):  # json escapes each character on its own: one call does them all
        return json.dumps(text, ensure_ascii=True)
    body = "".join(f"\\U{ord(char):08x}" if ord(char) > 0xFFFF else json.dumps(char, ensure_ascii=True)[1:-1]
                   for char in text)
    return f'"{body}"'


def scalar(value: Any) -> str:
    """One value as a YAML flow scalar that reads back as exactly this value, on one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN_SAFE.fullmatch(value) and not _AMBIGUOUS.fullmatch(value):
            return value
        return _double_quoted(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=True, sort_keys=False, separators=(", ", ": "))
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")
