"""Values refused before the schema: secret material and odd text, in keys as in values (and secrets in a
values file's comments), located where set.

Both are reported without quoting what was found (renderer/leaks/redact.py decides what may be printed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from renderer import leaks, load
from renderer.errors import Problem, ValuesError
from renderer.leaks import redact
from renderer.load import LocatedValues
from renderer.yamlio import Path as KeyPath
from renderer.yamlio import dotted


def _problem(values: LocatedValues, path: KeyPath, message: str, hint: str = "") -> Problem:
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


def secret_problems(values: LocatedValues) -> list[Problem]:
    """Values are references, never secrets: refuse secret-shaped keys and text where set, without quoting them."""
    problems = []
    for path, text, what in _strings(values.data):
        found = leaks.labels(text)
        if found:
            problems.append(_problem(values, path, f"{what} looks like secret material ({found[0]}); values hold "
                                     "references only", hint="put the secret in your secret store or a local file "
                                     "the bootstrap reads"))
    return sorted(set(problems))


def text_problems(values: LocatedValues) -> list[Problem]:
    """Control characters, lone surrogates and bidi overrides are refused where set (never echoed): rendered into
    bootstrap.sh they would run or read differently than they look, or fail to encode."""
    problems = []
    for path, text, what in _strings(values.data):
        odd = redact.odd_text(text)
        if odd:
            problems.append(_problem(values, path, f"{what} contains {odd}; only printable text, tabs and newlines "
                                     "are allowed (not shown)"))
    return sorted(set(problems))


MAX_SOURCE_FINDINGS = 20
"""Lines listed per values file: a file full of secrets is refused just the same, in a readable report."""


def source_problems(values: LocatedValues) -> list[Problem]:
    """Secret material anywhere else in a values file's text (a comment): the file is committed to git too.

    Asked only when no key or value was refused, so one secret is never reported twice."""
    problems = []
    for source in dict.fromkeys(values.sources):
        try:
            text = load.read_file(Path(source)).decode("utf-8", "replace")
        except ValuesError:
            continue  # loaded a moment ago; a file that vanished since is not this check's concern
        line, line_start, shown = 1, 0, 0
        for start, _end, label in leaks.spans(text):
            if start < line_start:
                continue  # one finding per line is enough to point at it
            line += text.count("\n", line_start, start)  # forward only: a file full of findings stays linear
            newline = text.rfind("\n", line_start, start)
            line_start = newline + 1 if newline >= 0 else line_start
            if shown == MAX_SOURCE_FINDINGS:
                problems.append(Problem(source, line, start - line_start + 1, "", "more text looks like secret "
                                        f"material from here on (only the first {MAX_SOURCE_FINDINGS} lines are "
                                        "listed)", hint="remove it from the file (and from git history if it was "
                                        "committed)"))
                break
            shown += 1
            problems.append(Problem(source, line, start - line_start + 1, "", f"text looks like secret material "
                                    f"({label}); a values file is committed to git, comments included",
                                    hint="remove it from the file (and from git history if it was committed)"))
            line_start = text.find("\n", start) + 1 or len(text) + 1
            line += 1
    return problems

