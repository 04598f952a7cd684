"""Derive strict JSON Schemas (draft 2020-12) from the upstream CRD files.

The API server silently prunes fields a CRD does not declare, so a typo in a rendered
custom object never fails an apply: it just vanishes. The schemas written here forbid
undeclared fields wherever the CRD is structural, which turns such typos into errors
that `renderer.check.crds` reports offline.

Usage::

    python -m devtools.crdschemas [--check] [SRC_DIR] [DEST_DIR]

SRC_DIR defaults to ``../shared/crds`` beside the repository, DEST_DIR to
``schemas/crds`` inside it. ``--check`` writes nothing and exits 1, listing the
files, when DEST_DIR is not what SRC_DIR would give. Exit 2 means unusable input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ruamel.yaml import YAML

from renderer.model.kinds import KINDS, Kind

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = REPO_ROOT.parent / "shared" / "crds"
DEFAULT_DEST = REPO_ROOT / "schemas" / "crds"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
IN_REPO_SRC = REPO_ROOT / "devtools" / "crds"
"""Upstream CRDs the shared set lacks (devtools/crds/PROVENANCE.md), byte for byte; read where SRC_DIR has no
such file. devtools/ is not in the wheel: only the derived schemas ship."""


class Source(NamedTuple):
    """Kinds read from ``<folder>/<kind lower-case>.yaml`` at CRD version ``crd_version``.

    ``api_version`` is what the schema accepts and where it is written; empty means the
    CRD's own ``<group>/<crd_version>``.
    """

    folder: str
    crd_version: str
    kinds: tuple[str, ...]
    api_version: str = ""


def _sources(kinds: tuple[Kind, ...], schema: str, folder: str = "") -> tuple[Source, ...]:
    """One Source per CRD group and version, in table order: a kind's schema comes from its own CRD, or from
    the CRD that stores it (Kind.crd), under `folder` for a series set."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for kind in kinds:
        if kind.schema == schema:
            crd_group, crd_version = (kind.crd or kind.api_version).rsplit("/", 1)
            api_version = kind.api_version if kind.crd else ""
            grouped.setdefault((crd_group, crd_version, api_version), []).append(kind.kind)
    return tuple(Source(f"{folder}/{group}" if folder else group, version, tuple(names), api_version)
                 for (group, version, api_version), names in grouped.items())


def common_sources(kinds: tuple[Kind, ...] = KINDS) -> tuple[Source, ...]:
    """The kinds whose schema no series changes (renderer/model/kinds.py, schema "common"). ESO's CRDs still
    carry v1beta1, no longer served by ESO v2.9: the kinds table names v1."""
    return _sources(kinds, "common")


def tigera_sources(folder: str, kinds: tuple[Kind, ...] = KINDS) -> tuple[Source, ...]:
    """One series' schema set from its CRD folder: the operator kinds, and the projectcalico.org/v3 kinds
    from the crd.projectcalico.org/v1 CRDs that store them (the aggregated API serves the same spec)."""
    return _sources(kinds, "series", folder)


def registry() -> dict[str, tuple[Source, ...]]:
    """Every schema set: the common kinds, and one set per Calico Enterprise series row
    (renderer/model/series.py names each row's CRD folder), so a new row is a new set."""
    from renderer.model.series import SERIES

    return {"common": common_sources(), **{f"tigera-v{row.series}": tigera_sources(row.crds)
                                           for row in SERIES.values()}}


# Keywords with the same meaning in OpenAPI v3.0 (as CRDs restrict it) and JSON Schema.
_KEPT = frozenset({
    "type", "properties", "required", "items", "additionalProperties", "enum", "format",
    "pattern", "minimum", "maximum", "multipleOf", "minLength", "maxLength", "minItems",
    "maxItems", "uniqueItems", "minProperties", "maxProperties", "allOf", "anyOf", "oneOf", "not",
})  # fmt: skip
# Documentation, defaulting and merge hints: no bearing on whether an object is valid.
_IGNORED = frozenset({
    "description", "title", "example", "externalDocs", "default",
    "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
})  # fmt: skip
# Translated below. Anything else fails loudly, so a new extension is never silently lost.
_TRANSLATED = frozenset({
    "nullable", "exclusiveMinimum", "exclusiveMaximum", "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-validations",
})  # fmt: skip
_JUNCTORS = ("allOf", "anyOf", "oneOf")


class CrdError(Exception):
    """A source CRD cannot be turned into a schema (missing, wrong kind, unknown keyword)."""


def _label(path: str) -> str:
    return path or "(root)"


def _translate(node: dict[str, Any], path: str, structural: bool, dropped: list[dict[str, str]]) -> dict[str, Any]:
    """Translate one OpenAPI node. ``structural`` is False inside junctors, where
    Kubernetes only allows value checks, so closing an object there would be wrong."""
    unknown = set(node) - _KEPT - _IGNORED - _TRANSLATED
    if unknown:
        raise CrdError(f"{_label(path)}: unsupported schema keyword(s) {sorted(unknown)}")
    out = {k: v for k, v in node.items() if k in _KEPT}
    out.update(_children(node, path, structural, dropped))
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(bound) is True and limit in out:
            out[bound] = out.pop(limit)
    for rule in node.get("x-kubernetes-validations", ()):
        dropped.append({"path": _label(path), "rule": rule["rule"], "message": rule.get("message", "")})
    _kubernetes_types(node, out)
    if (
        structural
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _children(node: dict[str, Any], path: str, structural: bool, dropped: list[dict[str, str]]) -> dict[str, Any]:
    """The translated sub-schemas of one node: properties, items, additionalProperties, junctors, not."""
    out: dict[str, Any] = {}
    if "properties" in node:
        out["properties"] = {
            name: _translate(sub, f"{path}.{name}" if path else name, structural, dropped)
            for name, sub in node["properties"].items()
        }
    if isinstance(node.get("items"), dict):
        out["items"] = _translate(node["items"], f"{path}[]", structural, dropped)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _translate(node["additionalProperties"], f"{path}{{}}", structural, dropped)
    for junctor in _JUNCTORS:
        if junctor in node:
            out[junctor] = [_translate(sub, path, False, dropped) for sub in node[junctor]]
    if "not" in node:
        out["not"] = _translate(node["not"], path, False, dropped)
    return out


def _kubernetes_types(node: dict[str, Any], out: dict[str, Any]) -> None:
    """The type extensions in JSON Schema terms: int-or-string, nullable, set lists."""
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
        if out.get("anyOf") == [{"type": "integer"}, {"type": "string"}]:
            del out["anyOf"]
    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True  # the API server rejects duplicates in a set list


def _object_meta(scope: str) -> dict[str, Any]:
    """The ObjectMeta fields a GitOps tree should set; the rest are server-managed."""
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    props: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1},
        "generateName": {"type": "string"},
        "labels": string_map,
        "annotations": string_map,
        "finalizers": {"type": "array", "items": {"type": "string"}},
    }
    if scope == "Namespaced":
        props["namespace"] = {"type": "string"}
    return {
        "type": "object",
        "properties": props,
        "required": ["name"],
        "additionalProperties": False,
    }


def _load_crd(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes (for the provenance hash) and its parsed CRD."""
    if not path.is_file():
        raise CrdError(f"{path}: no such CRD file")
    raw = path.read_bytes()
    crd = YAML(typ="safe", pure=True).load(raw.decode("utf-8"))
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise CrdError(f"{path}: not a CustomResourceDefinition")
    return raw, crd


def source_path(src_dir: Path, rel: str) -> Path:
    """`rel` in SRC_DIR, else in IN_REPO_SRC when only that has it."""
    path = src_dir / rel
    return IN_REPO_SRC / rel if not path.is_file() and (IN_REPO_SRC / rel).is_file() else path


def derive(src_dir: Path, set_name: str, source: Source, kind: str) -> tuple[str, str]:
    """Return ``(path relative to DEST_DIR, JSON text)`` for one kind."""
    rel = f"{source.folder}/{kind.lower()}.yaml"
    raw, crd = _load_crd(source_path(src_dir, rel))
    spec = crd["spec"]
    if spec["names"]["kind"] != kind:
        raise CrdError(f"{rel}: holds kind {spec['names']['kind']}, expected {kind}")
    versions = [v for v in spec["versions"] if v["name"] == source.crd_version and v.get("served", True)]
    if not versions:
        raise CrdError(f"{rel}: version {source.crd_version} is not served")
    api_version = source.api_version or f"{spec['group']}/{source.crd_version}"
    dropped: list[dict[str, str]] = []
    schema = _translate(versions[0]["schema"]["openAPIV3Schema"], "", True, dropped)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"const": api_version}
    props["kind"] = {"const": kind}
    props["metadata"] = _object_meta(spec["scope"])
    base = ["apiVersion", "kind", "metadata"]
    schema["required"] = base + [r for r in schema.get("required", []) if r not in base]
    schema["additionalProperties"] = False
    doc = {
        "$schema": DRAFT,
        "$comment": "Generated by python -m devtools.crdschemas from x-source; do not edit.",
        "title": f"{api_version} {kind} ({set_name})",
        "x-source": {
            "file": rel,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "crd": crd["metadata"]["name"],
            "crdVersion": source.crd_version,
            "scope": spec["scope"],
        },
        "x-dropped-validations": {"count": len(dropped), "rules": dropped},
        **schema,
    }
    group, version = api_version.split("/")
    out_rel = f"{set_name}/{group}/{version}/{kind.lower()}.json"
    return out_rel, json.dumps(doc, indent=2, sort_keys=True) + "\n"


def render_all(src_dir: Path) -> dict[str, str]:
    """Every registered schema, in memory, keyed by path relative to DEST_DIR."""
    rendered: dict[str, str] = {}
    for set_name, sources in registry().items():
        for source in sources:
            for kind in source.kinds:
                rel, text = derive(src_dir, set_name, source, kind)
                rendered[rel] = text
    return dict(sorted(rendered.items()))


def _owned_files(dest: Path) -> set[str]:
    """Generated JSON files already under DEST_DIR (never touches anything else)."""
    if not dest.is_dir():
        return set()
    return {
        p.relative_to(dest).as_posix() for p in dest.rglob("*.json") if '"x-source"' in p.read_text(encoding="utf-8")
    }


def drift(rendered: dict[str, str], dest: Path) -> list[str]:
    """``MISSING|DIFFER|EXTRA <path>`` lines; empty when DEST_DIR is current."""
    lines = []
    for rel, text in rendered.items():
        target = dest / rel
        if not target.is_file():
            lines.append(f"MISSING {rel}")
        elif target.read_text(encoding="utf-8") != text:
            lines.append(f"DIFFER {rel}")
    lines += [f"EXTRA {rel}" for rel in sorted(_owned_files(dest) - set(rendered))]
    return lines


def write(rendered: dict[str, str], dest: Path) -> list[str]:
    """Bring DEST_DIR up to date (atomic per file, stale schemas pruned); return the changes."""
    changes = drift(rendered, dest)
    for line in changes:
        status, rel = line.split(" ", 1)
        target = dest / rel
        if status == "EXTRA":
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(rendered[rel])
        os.replace(tmp, target)
    for folder in sorted(dest.rglob("*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.crdschemas",
        description="Derive strict JSON Schemas from upstream CRDs.",
        epilog="Example: python -m devtools.crdschemas --check",
    )
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC, help="upstream CRD folder")
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST, help="schema output folder")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if DEST is stale")
    args = parser.parse_args(argv)
    try:
        rendered = render_all(args.src)
    except CrdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        stale = drift(rendered, args.dest)
        for line in stale:
            print(line)
        if stale:
            print(
                f"{len(stale)} schema file(s) stale; run: python -m devtools.crdschemas",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for line in write(rendered, args.dest):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
