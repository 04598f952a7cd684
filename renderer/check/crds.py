"""Validate rendered custom objects against the strict schemas in ``schemas/crds``.

Those schemas (written by ``devtools.crdschemas``) forbid fields the CRD does not
declare, because the API server would drop them without a word. Tigera kinds are
checked against the schema set of the Tigera version being rendered, everything else
against ``common``; when no schema fits, that is an error, never a neighbour's schema.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]

from renderer import resources
from renderer.model import kinds

TIGERA_GROUPS = kinds.series_groups()
COMMON_SET = "common"
_TIGERA_PREFIX = "tigera-v"
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.+-]*)?")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


class SchemaMissing(Exception):
    """No derived schema for an object or a Tigera version."""


def schemas_dir() -> Path:
    """An installed wheel ships the schemas inside the package; a checkout has them at the root."""
    return resources.schema_path("crds")


@cache
def _tigera_sets() -> tuple[str, ...]:
    root = schemas_dir()
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(_TIGERA_PREFIX)))


def tigera_schema_set(tigera_version: str) -> str:
    """Map ``v3.19.2`` to ``tigera-v3.19``: schemas follow MAJOR.MINOR releases."""
    available = _tigera_sets()
    match = _VERSION.fullmatch(tigera_version)
    if match:
        name = f"{_TIGERA_PREFIX}{match[1]}.{match[2]}"
        if name in available:
            return name
    versions = ", ".join(s.removeprefix("tigera-") for s in available) or "none"
    raise SchemaMissing(f"no CRD schemas for Tigera version {tigera_version!r}; available: {versions}")


@cache
def _validator(set_name: str, group: str, version: str, kind: str) -> Any:
    """Compiled once per kind: the larger schemas take far longer to read than to apply."""
    path = schemas_dir() / set_name / group / version / f"{kind.lower()}.json"
    if not group or not path.is_file():
        return None
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def _dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _unknown_field(path: list[str | int], key: str, known: Iterable[str]) -> str:
    where = _dotted([*path, key])
    if path == ["metadata"] and key == "namespace":
        return f"{where}: not allowed, this kind is cluster-scoped"
    hint = difflib.get_close_matches(key, list(known), n=1)
    suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"{where}: unknown field{suffix}"


def _problems(error: ValidationError) -> Iterator[str]:
    """One line per problem; an unknown field is reported at its own path, not its parent's."""
    path = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and schema.get("additionalProperties") is False:
        known = schema.get("properties", {})
        instance: Any = error.instance
        for key in instance:
            if key not in known:
                yield _unknown_field(path, key, known)
        return
    yield f"{_dotted(path) or '(root)'}: {error.message}"


def custom_object_problems(obj: dict[str, Any], tigera_version: str) -> list[str]:
    """All schema problems of one rendered custom object, sorted, as ``path: message``.

    ``tigera_version`` is only resolved for Tigera kinds, so it raises SchemaMissing
    there (and for any object whose apiVersion/kind has no derived schema).
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    group, _, version = api_version.rpartition("/") if isinstance(api_version, str) else ("", "", "")
    set_name = tigera_schema_set(tigera_version) if group in TIGERA_GROUPS else COMMON_SET
    validator = _validator(set_name, group, version, kind) if isinstance(kind, str) else None
    if validator is None:
        raise SchemaMissing(
            f"no CRD schema for apiVersion {api_version!r} kind {kind!r} (schema set searched: {set_name})"
        )
    return sorted(line for error in validator.iter_errors(obj) for line in _problems(error))
