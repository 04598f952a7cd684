"""Guidance added to a problem: the closest allowed value, a quoted scalar's real type, a YAML error's context.

Pure text helpers for renderer/validate (schema errors) and renderer/yamlio (syntax errors); nothing here
decides whether input is valid, it only says what the person probably meant.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
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


_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
         (b"\xfe\xff", "UTF-16"))


def wide_encoding(raw: bytes) -> str:
    """The encoding (as iconv names it) when the bytes are most likely UTF-16 or UTF-32, as Windows editors and
    PowerShell's `>` write: a byte order mark, or NUL bytes in every other position of the start; else ""."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    head = raw[:256]
    if len(head) >= 4 and head.count(0) * 3 >= len(head):
        if not any(head[1::4] + head[2::4]):
            return "UTF-32LE" if head[0] else "UTF-32BE"
        if not any(head[1::2]):
            return "UTF-16LE"
        if not any(head[0::2]):
            return "UTF-16BE"
    return ""


def save_as_utf8(encoding: str, filename: str) -> str:
    converted = shlex.quote(filename + ".utf8")
    return (f"save it as UTF-8: \"Save with encoding\" in the editor, or iconv -f {encoding} -t UTF-8 "
            f"{shlex.quote(filename)} > {converted} and rename it")


def invalid_byte(byte: int) -> str:
    """What a byte that is not UTF-8 probably was, and the fix."""
    if byte >= 0xA0:
        return f"save the file as UTF-8 (0x{byte:02x} is {bytes([byte]).decode('latin-1')!r} in Latin-1: the file " \
               "was saved in a legacy encoding)"
    return "save the file as UTF-8"


def tab_separator(source: str, column: int) -> tuple[str, str]:
    """A YAML syntax error at a tab (column is 1-based): the message and hint a person can act on."""
    before = source[: column - 1].rstrip("\t")
    after = before[-1:] if before else ""
    what = {":": "between a key and its value", "-": "after a list item's dash", "?": "after '?'"}.get(
        after, "where YAML expects a space")
    message = f"tab {what}; YAML separates tokens with spaces, never tabs"
    return message, f"replace the tab at column {column} with a space"


def schema_hint(validator: str, rule: Any, value: Any, node: dict[str, Any]) -> str:
    """For a schema error: a number that should have been quoted, or a version written with the other
    convention (Kubernetes and chart versions without `v`, Calico Enterprise releases with it)."""
    if validator == "type":
        if rule == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
            example = _example(node)
            shown = json.dumps(str(value))
            if example and not _matches(node, str(value)):
                return f"quote it and write it in full, e.g. {example} (unquoted, YAML reads {value} as a number)"
            return f"quote it: {shown} (unquoted, YAML reads {value} as a number)"
        return quoted_scalar_hint(rule, value)
    if validator == "pattern" and isinstance(value, str) and isinstance(rule, str):
        if value[:1] in "vV" and re.search(rule, value[1:]):
            return f"drop the v: {json.dumps(value[1:])} (written without v here)"
        if re.search(rule, "v" + value):
            return f"add the v: {json.dumps('v' + value)} (written with v here)"
    return ""


def _example(node: dict[str, Any]) -> str:
    found = re.search(r'e\.g\. ("[^"]+")', str(node.get("description", "")))
    return found.group(1) if found else ""


def _matches(node: dict[str, Any], text: str) -> bool:
    pattern = node.get("pattern")
    return not isinstance(pattern, str) or re.search(pattern, text) is not None
