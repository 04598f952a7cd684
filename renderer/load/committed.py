"""The tree committed in out/<cluster>/, read back as objects: what a change is measured against.

`render --check` compares with the same files, so "a change" means the same thing to the destructive-edit
hold (renderer/validate/destructive.py), the upgrade plan (renderer/model/upgrade.py) and the drift check.
A first render (no tree on disk) has nothing committed, hence no change to hold or plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderer.write import MANIFEST
from renderer.yamlio.output import parse_output

OPERATOR_MANIFEST = re.compile(r"/(?P<version>v\d+\.\d+\.\d+)/manifests/tigera-operator\.yaml")
"""How the operator stage names its release: {manifestsBaseURL}/{version}/manifests/tigera-operator.yaml
(renderer/model/stages.py: manifest_url), directly or in a vendored copy's header (renderer/remote/vendor.py)."""


@dataclass(frozen=True)
class Committed:
    """The objects of the committed tree by file, and the Calico Enterprise release its operator stage names."""

    objects: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    tigera_version: str = ""

    @property
    def exists(self) -> bool:
        return bool(self.objects)

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return find(self.objects, kind, name)


def find(objects: dict[str, tuple[dict[str, Any], ...]], kind: str, name: str) -> dict[str, Any] | None:
    """The first object of `kind` named `name` in a tree's objects, or None."""
    for path in sorted(objects):
        for obj in objects[path]:
            if obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
                return obj
    return None


def _parsed(path: Path, known: Mapping[str, tuple[dict[str, Any], ...]]) -> tuple[dict[str, Any], ...]:
    try:
        text = path.read_text("utf-8")
        if text in known:  # the same text parses the same: the check stage parsed it already
            return known[text]
        documents = parse_output(text)
    except Exception:  # noqa: BLE001 - an unreadable or unparsable file holds no object
        return ()
    return tuple(doc for doc in documents if isinstance(doc, dict))


def _version(cluster_dir: Path) -> str:
    """The release the committed operator stage applies, following a vendored copy's relative path once."""
    for kustomization in sorted(cluster_dir.glob("*-tigera-operator/kustomization.yaml")):
        text = kustomization.read_text("utf-8", "replace")
        match = OPERATOR_MANIFEST.search(text)
        if match:
            return match["version"]
        for line in text.splitlines():
            target = line.strip().removeprefix("- ").strip().strip("\"'")
            if target.startswith(("../", "./")):
                vendored = (kustomization.parent / target / "kustomization.yaml")
                if vendored.is_file():
                    found = OPERATOR_MANIFEST.search(vendored.read_text("utf-8", "replace"))
                    if found:
                        return found["version"]
    return ""


def read(out_dir: Path, cluster: str, known: Mapping[str, tuple[dict[str, Any], ...]] | None = None) -> Committed:
    """Every YAML object of the files the renderer owns under out/<cluster>/ (a file added by hand is not part
    of the tree); nothing when the tree is absent or not a directory. `known`: the objects of texts already
    parsed (text -> its mapping documents, read-only), so a re-render parses only the files that changed."""
    cluster_dir = out_dir / cluster
    if cluster_dir.is_symlink() or not cluster_dir.is_dir():
        return Committed()
    owned = _owned(cluster_dir)
    objects = {}
    for path in sorted(cluster_dir.rglob("*.yaml")):
        relative = path.relative_to(cluster_dir).as_posix()
        if path.is_file() and not path.is_symlink() and (owned is None or relative in owned):
            found = _parsed(path, known or {})
            if found:
                objects[relative] = found
    return Committed(objects, _version(cluster_dir))


def _owned(cluster_dir: Path) -> set[str] | None:
    """The files the renderer wrote there (its manifest, renderer/write: MANIFEST); None without one."""
    try:
        files = json.loads((cluster_dir / MANIFEST).read_text("utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return {str(name) for name in files} if isinstance(files, dict) else None
