"""Where the shipped data lives: templates/ and schemas/, in a checkout or inside an installed wheel."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from renderer import datafiles
from renderer.versions import sort_key


def _data_dir(name: str) -> Path:
    """The wheel ships templates/ and schemas/ inside the package; a checkout has them beside it."""
    return Path(datafiles.data_dir(name))


def templates_dir() -> Path:
    return _data_dir("templates")


def schema_path(name: str) -> Path:
    return _data_dir("schemas") / name


def kubernetes_schema_root() -> Path:
    """kubernetes-validate's schema folders, found without importing it (renderer/datafiles.py)."""
    root = datafiles.kubernetes_schema_root()
    if root is None:
        raise RuntimeError("kubernetes-validate is not installed")
    return Path(root)


@cache
def kubernetes_versions() -> list[str]:
    """MAJOR.MINOR versions kubernetes-validate ships strict schemas for, oldest first."""
    versions = set()
    for child in kubernetes_schema_root().iterdir():
        match = re.fullmatch(r"v([0-9]+\.[0-9]+)\.[0-9]+-local-strict", child.name)
        if match:
            versions.add(match.group(1))
    return sorted(versions, key=sort_key)


@cache
def tigera_series() -> list[str]:
    """Calico Enterprise MAJOR.MINOR series with derived CRD schemas (schemas/crds/tigera-vX.Y)."""
    found = []
    root = schema_path("crds")
    if root.is_dir():
        for child in root.iterdir():
            match = re.fullmatch(r"tigera-v([0-9]+\.[0-9]+)", child.name)
            if match and child.is_dir():
                found.append(match.group(1))
    return sorted(found, key=sort_key)
