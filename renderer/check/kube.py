"""Core Kubernetes kinds checked with kubernetes-validate's strict schemas, compiled once.

kubernetes-validate re-reads and recompiles its schema on every call (several ms each),
so the validator per (version, apiVersion, kind) is built here once and cached.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from renderer import resources


class UnknownKind(Exception):
    """No schema for this apiVersion/kind at this Kubernetes version."""


@cache
def _schema_dir(minor: str) -> Path:
    return resources.kubernetes_schema_root() / f"v{minor}.0-local-strict"


def definitions_file(minor: str) -> Path:
    return _schema_dir(minor) / "_definitions.json"


def schema_file(minor: str, api_version: str, kind: str) -> Path:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return _schema_dir(minor) / f"{kind.lower()}-{group_version}.json"


@cache
def _registry(minor: str) -> Registry:
    definitions = json.loads(definitions_file(minor).read_text("utf-8"))
    resource: Resource[Any] = Resource.from_contents(definitions)
    return resource @ Registry()


@cache
def validator(minor: str, api_version: str, kind: str) -> Draft202012Validator:
    path = schema_file(minor, api_version, kind)
    if not path.is_file():
        raise UnknownKind(f"no Kubernetes {minor} schema for {api_version} {kind}")
    schema = json.loads(path.read_text("utf-8"))
    return Draft202012Validator(schema, registry=_registry(minor))


def problems(obj: dict[str, Any], minor: str) -> list[str]:
    """Every schema problem of one core object, as `dotted.path: message`."""
    found = []
    for error in validator(minor, str(obj.get("apiVersion")), str(obj.get("kind"))).iter_errors(obj):
        path = ".".join(str(part) for part in error.absolute_path) or "(root)"
        found.append(f"{path}: {error.message}")
    return sorted(found)
