"""Say what a jsonschema error means for the person editing the values, and where.

One describer per validator (keyword) whose own message would not say what to do; the others keep
jsonschema's message, shortened, with a secret-looking value never quoted.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import jsonschema

from renderer import hints
from renderer.leaks import redact
from renderer.yamlio import Path as KeyPath


def _short(value: Any) -> str:
    return redact.shown(value)


_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "boolean": "true or false", "number": "a number", "null": "null"}
_GOT_NAMES = {**_TYPE_NAMES, "boolean": "a boolean"}


def describe(error: jsonschema.ValidationError) -> list[tuple[KeyPath, str]]:
    """Turn one jsonschema error into (key path, message) pairs a person can act on."""
    path: KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    describer = _DESCRIBERS.get(str(error.validator))
    found = describer(error, path, schema) if describer is not None else None
    if found is not None:
        return found
    kind, rule = error.validator, error.validator_value
    if kind in ("minimum", "maximum") and isinstance(error.instance, int) and abs(error.instance) > 10**12:
        return [(path, f"{str(error.instance)[:20]}... is out of range ({kind} {rule})")]
    hidden = redact.why_hidden(error.instance)
    if hidden:  # jsonschema's own message quotes the value
        return [(path, f"{hidden} is not valid ({kind} {_short(rule)})")]
    return [(path, str(error.message) if len(str(error.message)) < 300 else str(error.message)[:297] + "...")]


Described = list[tuple[KeyPath, str]] | None
"""What one validator's describer says; None: jsonschema's own message, shortened."""


def _unknown_keys(error: jsonschema.ValidationError, path: KeyPath, schema: dict[str, Any]) -> Described:
    if not isinstance(error.instance, dict):
        return None
    allowed = sorted(schema.get("properties", {}))
    found: list[tuple[KeyPath, str]] = []
    for key in sorted(set(error.instance) - set(allowed)):
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        found.append(((*path, key), f"unknown key{hint}; expected one of: {', '.join(allowed)}"))
    return found if found or not isinstance(schema.get("additionalProperties"), dict) else None


def _required(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    missing = str(error.message).split("'")[1] if "'" in str(error.message) else "?"
    return [((*path, missing), "required key is missing")]


def _wrong_type(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    rule: Any = error.validator_value
    expected = rule if isinstance(rule, str) else "/".join(rule)
    actual = _json_type(error.instance)
    got = _GOT_NAMES.get(actual, "?")
    if actual not in ("object", "array", "null"):
        got += f" {_short(error.instance)}"
    return [(path, f"expected {_TYPE_NAMES.get(expected, expected)}, got {got}")]


def _not_one_of(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    rule: Any = error.validator_value
    options = ", ".join(str(option) for option in rule)
    return [(path, f"{_short(error.instance)} is not one of: {options}{hints.did_you_mean(error.instance, rule)}")]


def _not_matching(error: jsonschema.ValidationError, path: KeyPath, schema: dict[str, Any]) -> Described:
    what = schema.get("description", f"a value matching {error.validator_value}")
    if not what[1:2].isupper():
        what = what[0].lower() + what[1:]
    if "propertyNames" in error.relative_schema_path:
        path = (*path, str(error.instance))
    return [(path, f"{_short(error.instance)} is not valid: expected {what}")]


def _duplicates(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    if not isinstance(error.instance, list):
        return None
    seen: list[Any] = []
    duplicates: list[tuple[KeyPath, str]] = []
    for index, item in enumerate(error.instance):
        if item in seen:
            duplicates.append(((*path, index), f"{_short(item)} appears more than once; each item may appear once"))
        seen.append(item)
    return duplicates


def _too_many(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    if not isinstance(error.instance, (list, dict)):
        return None
    what = "items" if error.validator == "maxItems" else "entries"
    return [(path, f"has {len(error.instance)} {what}; at most {error.validator_value} allowed")]


def _too_long(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    return [(path, f"is {len(str(error.instance))} characters long; at most {error.validator_value} allowed")]


def _bad_name(error: jsonschema.ValidationError, path: KeyPath, _schema: dict[str, Any]) -> Described:
    return [(path, f"key {_short(error.instance)} is not a valid name")]


_DESCRIBERS: dict[str, Callable[[jsonschema.ValidationError, KeyPath, dict[str, Any]], Described]] = {
    "additionalProperties": _unknown_keys, "required": _required, "type": _wrong_type, "enum": _not_one_of,
    "pattern": _not_matching, "format": _not_matching, "uniqueItems": _duplicates, "maxItems": _too_many,
    "maxProperties": _too_many, "maxLength": _too_long, "propertyNames": _bad_name,
}
"""One describer per jsonschema validator (keyword) whose own message would not say what to do."""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
