"""Version strings as the renderer compares them: one reading of "v3.19.2" and "1.31.1" for every stage."""

from __future__ import annotations


def series(version: str) -> tuple[int, int]:
    """(major, minor) of a version with or without its leading v: "v3.19.2" -> (3, 19)."""
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def minor(version: str) -> str:
    """MAJOR.MINOR as text, without a leading v: "1.31.1" -> "1.31", "v3.19.2" -> "3.19"."""
    return ".".join(version.lstrip("v").split(".")[:2])


def sort_key(version: str) -> tuple[int, ...]:
    """Numeric order of dotted versions ("1.9" before "1.10")."""
    return tuple(int(part) for part in version.lstrip("v").split("."))
