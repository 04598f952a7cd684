"""Values refused before the schema: secret material and odd text, in keys as in values, located where set.

Both are reported without quoting what was found (renderer/redact.py decides what may be printed).
"""

from __future__ import annotations

from typing import Any

from renderer import leaks, redact
from renderer.errors import Problem
from renderer.loader import Values
from renderer.yamlio import Path as KeyPath
from renderer.yamlio import dotted


def _problem(values: Values, path: KeyPath, message: str, hint: str = "") -> Problem:
    file, line, column = values.origin(path)
    return Problem(file, line, column, dotted(path), message, hint=hint)


def _strings(node: Any, path: KeyPath = ()) -> list[tuple[KeyPath, str, str]]:
    """Every string of the values, with the key path where it was set and what it is ("key" or "value")."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in
                ([((*path, key), key, "key")] if isinstance(key, str) else []) + _strings(value, (*path, key))]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in _strings(value, (*path, index))]
    return [(path, node, "value")] if isinstance(node, str) else []


def secret_problems(values: Values) -> list[Problem]:
    """Values are references, never secrets: refuse secret-shaped keys and text where set, without quoting them."""
    problems = []
    for path, text, what in _strings(values.data):
        found = leaks.labels(text)
        if found:
            problems.append(_problem(values, path, f"{what} looks like secret material ({found[0]}); values hold "
                                     "references only", hint="put the secret in your secret store or a local file "
                                     "the bootstrap reads"))
    return sorted(set(problems))


def text_problems(values: Values) -> list[Problem]:
    """Control characters, lone surrogates and bidi overrides are refused where set (never echoed): rendered into
    bootstrap.sh they would run or read differently than they look, or fail to encode."""
    problems = []
    for path, text, what in _strings(values.data):
        odd = redact.odd_text(text)
        if odd:
            problems.append(_problem(values, path, f"{what} contains {odd}; only printable text, tabs and newlines "
                                     "are allowed (not shown)"))
    return sorted(set(problems))
