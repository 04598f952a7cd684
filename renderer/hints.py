"""Guidance added to a problem: the closest allowed value, a quoted scalar's real type, a YAML error's context.

Pure text helpers for renderer/validate (schema errors) and renderer/yamlio (syntax errors); nothing here
decides whether input is valid, it only says what the person probably meant.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

_KEY_LINE = re.compile(r"^(?P<indent> *)(?:- +)?(?P<key>[^\s#'\"\[\]{},:-][^#:]*?|\"[^\"]*\"|'[^']*') *:(?: |$)")


def closest(value: Any, options: list[Any]) -> Any | None:
    """The option a typo most likely meant (case first, then difflib's ratio), or None."""
    if not isinstance(value, str):
        return None
    texts = {str(option): option for option in options}
    folded = {text.lower(): option for text, option in texts.items()}
    if value.lower() in folded:
        return folded[value.lower()]
    found = difflib.get_close_matches(value.lower(), list(folded), n=1, cutoff=0.6)
    return folded[found[0]] if found else None


def did_you_mean(value: Any, options: list[Any]) -> str:
    """` (did you mean "at-vie-1"?)` when one option is close to `value`, else ""."""
    match = closest(value, options)
    return f" (did you mean {json.dumps(match)}?)" if match is not None else ""


_INTEGER = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}


def quoted_scalar_hint(expected: str, value: Any) -> str:
    """What to write instead of a quoted number or boolean where the schema wants the real thing."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if expected == "integer" and _INTEGER.fullmatch(text):
        return f"remove the quotes: {text} without quotes is an integer"
    if expected == "number" and _NUMBER.fullmatch(text):
        return f"remove the quotes: {text} without quotes is a number"
    if expected == "boolean" and text in ("true", "false"):
        return f"remove the quotes: {text} without quotes is a boolean"
    if expected == "boolean" and text.lower() in ("true", "false"):
        return f"write {text.lower()} without quotes (YAML booleans are lower case)"
    if expected == "boolean" and text.lower() in _YAML11_BOOLEANS:
        return "write true or false: values files are YAML 1.2, where yes/no/on/off are strings"
    return ""


def key_path_at(lines: list[str], line_index: int) -> str:
    """The key path enclosing line `line_index` (0-based), read from indentation alone.

    For a file that does not parse: the nearest less-indented `key:` and `- ` lines above, as a
    person reading the file finds them (a flow collection or a multi-line scalar may end the path
    early; the block structure above is read as written)."""
    parts: list[str | int] = []
    limit: int | None = None
    for index in range(min(line_index, len(lines) - 1), -1, -1):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if limit is not None and indent >= limit:
            continue
        match = _KEY_LINE.match(line)
        item = line.lstrip().startswith("- ")
        key_indent = indent + len(line.lstrip()) - len(line.lstrip()[1:].lstrip()) if item else indent
        if match and (limit is None or key_indent < limit):
            parts.append(match.group("key").strip("'\""))
        if item:
            parts.append(_item_index(lines, index, indent))
        limit = indent
        if indent == 0:
            break
    text = ""
    for part in reversed(parts):
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _item_index(lines: list[str], line_index: int, indent: int) -> int:
    """How many `- ` items at this indentation come before this one in the same list."""
    count = 0
    for line in reversed(lines[:line_index]):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        here = len(line) - len(line.lstrip(" "))
        if here < indent or (here == indent and not line.lstrip().startswith("-")):
            break
        if here == indent:
            count += 1
    return count
