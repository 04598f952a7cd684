"""`--set key.path=VALUE` overrides, typed through the values schema.

`--set nodepool.size=3` is an integer because the schema says so, `--set tigera.version=v3.19.2`
stays a string, lists and mappings take YAML flow syntax (`--set bypass.namespaces=[a,b]`),
`null` removes the key. A dot inside a key is written `\\.`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from renderer import yamlio
from renderer.errors import Problem, ValuesError
from renderer.leaks import redact
from renderer.load import LocatedValues, merge
from renderer.validate import resolve_ref
from renderer.yamlio import limits

_SPLIT = re.compile(r"(?<!\\)\.")


def _schema_at(schema: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    node = resolve_ref(schema, schema)
    for key in keys:
        properties = node.get("properties", {})
        if key in properties:
            node = resolve_ref(schema, properties[key])
        elif isinstance(node.get("additionalProperties"), dict):
            node = resolve_ref(schema, node["additionalProperties"])
        else:
            return None
    return node


def _unknown(schema: dict[str, Any], keys: list[str]) -> str:
    """The same message a values file gets for the same typo."""
    for end in range(len(keys) - 1, -1, -1):
        parent = _schema_at(schema, keys[:end])
        if parent is not None and "properties" in parent:
            allowed = sorted(parent["properties"])
            close = difflib.get_close_matches(keys[end], allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"unknown key{hint}; expected one of: {', '.join(allowed)}"
    return "unknown key; see the values reference in README.md"


def _convert(text: str, node: dict[str, Any]) -> Any:
    kind = node.get("type")
    if text == "null":
        return None
    if kind == "integer":
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", text):
            raise ValueError(f"expected an integer, got {redact.why_hidden(text) or repr(text)}")
        return int(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"expected true or false, got {redact.why_hidden(text) or repr(text)}")
        return text == "true"
    if kind in ("array", "object"):
        too_many = limits.too_many_entries(text, "value", "one --set")
        if too_many:
            raise ValueError(too_many)
        try:
            value = yamlio.load_flow(text, "--set")  # the rules of a values file (README "Loading rules")
        except yamlio.LoadProblem as exc:
            detail = redact.why_hidden(text) or exc.problem.message  # the parser's message may quote the text
            raise ValueError(f"expected a YAML flow {kind}: {detail}") from None
        expected = list if kind == "array" else dict
        if not isinstance(value, expected):
            raise ValueError(f"expected a YAML flow {kind} such as {'[a, b]' if kind == 'array' else '{a: b}'}")
        return value
    return text


def apply(values: LocatedValues, overrides: list[str], schema: dict[str, Any]) -> LocatedValues:
    """Layer each override over the values, in order; report every bad one at once."""
    problems: list[Problem] = []
    data, origins = values.data, dict(values.origins)
    for override in overrides:
        where = redact.override_where(override)
        key_text, sep, text = override.partition("=")
        keys = [part.replace("\\.", ".") for part in _SPLIT.split(key_text)] if key_text else []
        if not sep or not keys or any(not key for key in keys):
            problems.append(Problem(where, 0, 0, "", "expected KEY.PATH=VALUE, e.g. --set nodepool.size=3"))
            continue
        dotted = ".".join(keys)
        node = _schema_at(schema, keys)
        if node is None:
            problems.append(Problem(where, 0, 0, dotted, _unknown(schema, keys)))
            continue
        try:
            value = _convert(text, node)
        except ValueError as exc:
            problems.append(Problem(where, 0, 0, dotted, str(exc)))
            continue
        hidden = redact.why_hidden(value)
        if hidden and hidden not in where:  # the text was clean, what it parses to is not (YAML escapes)
            where = f"--set {dotted}={hidden}"
        layer: dict[str, Any] = {keys[-1]: value}
        for key in reversed(keys[:-1]):
            layer = {key: layer}
        layer_origins = {tuple(keys[:end]): (where, 0, 0) for end in range(1, len(keys) + 1)}
        data = merge(data, layer, origins, layer_origins)
    if problems:
        raise ValuesError(problems)
    return LocatedValues(data=data, origins=origins, sources=values.sources)
