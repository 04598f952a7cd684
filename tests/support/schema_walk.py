"""Test helpers that read the values schema and count parser work."""

from __future__ import annotations

from typing import Any

import pytest
import ruamel.yaml.scanner as ruamel_scanner

from renderer import validate


def string_fields(node: dict[str, Any], schema: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every free string field the schema admits (no enum), as key paths; `<any>` stands for a mapping
    value, `<item>` for a list item."""
    node = validate.resolve_ref(schema, node)
    if node.get("type") == "string" and "enum" not in node:
        return [path]
    found = []
    for key, sub in node.get("properties", {}).items():
        found += string_fields(sub, schema, (*path, key))
    if isinstance(node.get("additionalProperties"), dict):
        found += string_fields(node["additionalProperties"], schema, (*path, "<any>"))
    if isinstance(node.get("items"), dict):
        found += string_fields(node["items"], schema, (*path, "<item>"))
    return found


def count_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of ruamel scanner calls (work, not time) for the rest of the test."""
    scanned = [0]
    real_fetch = ruamel_scanner.Scanner.fetch_more_tokens

    def counting_fetch(self: Any) -> Any:
        scanned[0] += 1
        return real_fetch(self)

    monkeypatch.setattr(ruamel_scanner.Scanner, "fetch_more_tokens", counting_fetch)
    return scanned
