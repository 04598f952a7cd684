"""What the tool may print of a value taken from input, and which text it refuses outright.

One rule for every output (errors, warnings, annotations, --diff, --check, markdown): a value
is shown only after the secret scan (renderer/leaks/__init__.py) found it clean and it holds no odd
text; otherwise it is replaced by `<redacted: looks like ...>` or `<not shown: ...>`, and the
location and key path around it stay. `scrub` is the same rule applied to finished text.
"""

from __future__ import annotations

import json
from typing import Any

from renderer import leaks

_BIDI = {*range(0x202A, 0x202F), *range(0x2066, 0x206A)}
"""Bidirectional embeddings, overrides and isolates: they make text read differently than it runs."""


def odd_text(text: str) -> str:
    """What makes `text` unsafe to write into a script or show on a terminal ('' when nothing).

    Control characters other than tab and newline (C0, DEL, C1), lone surrogates (from a
    `"\\ud800"` YAML escape or an invalid UTF-8 byte in argv) and bidi overrides."""
    for index, char in enumerate(text):
        code = ord(char)
        if (code < 0x20 and char not in "\t\n") or 0x7F <= code <= 0x9F:
            return f"a control character (U+{code:04X}) at character {index + 1}"
        if 0xDC80 <= code <= 0xDCFF:  # how Python passes an undecodable argv byte (surrogateescape)
            return f"an invalid UTF-8 byte (0x{code - 0xDC00:02X}) at character {index + 1}"
        if 0xD800 <= code <= 0xDFFF:
            return f"a lone surrogate (U+{code:04X}, not valid Unicode) at character {index + 1}"
        if code in _BIDI:
            return f"a bidirectional override (U+{code:04X}) at character {index + 1}"
    return ""


def why_hidden(value: Any) -> str:
    """'' when `value` (any plain data, keys included) may be printed; otherwise the placeholder."""
    for text in _texts(value):
        found = leaks.labels(text)
        if found:
            return f"<redacted: looks like {found[0]}>"
        odd = odd_text(text)
        if odd:
            return f"<not shown: contains {odd.split(' at ')[0]}>"
    return ""


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*_texts(key), *_texts(item))]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def shown(value: Any, limit: int = 60) -> str:
    """`value` as JSON, cut to `limit` characters, or its placeholder: decided on the whole value, before cutting."""
    hidden = why_hidden(value)
    if hidden:
        return hidden
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + '..."'


def override_where(override: str) -> str:
    """The `--set KEY=VALUE` location of an override: the key as `key_path` prints it, the value or its placeholder."""
    key, sep, value = override.partition("=")
    shown_value = value if len(value) <= 60 else value[:57] + "..."
    return f"--set {key_path(key)}{sep}{why_hidden(value) or shown_value}"


def key_path(path: str) -> str:
    """A dotted key path as it may be printed: secret-shaped spans redacted, a part with odd text hidden."""
    parts = scrub(path).split(".")
    return ".".join(f"<not shown: contains {odd.split(' at ')[0]}>" if (odd := odd_text(part)) else part
                    for part in parts)


def scrub(text: str) -> str:
    """Finished output text with every secret-shaped span replaced by its placeholder."""
    found = leaks.spans(text)
    if not found:
        return text
    merged: list[tuple[int, int, str]] = []
    for start, end, label in found:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, label))
    parts, position = [], 0
    for start, end, label in merged:
        parts.append(text[position:start] + f"<redacted: looks like {label}>")
        position = end
    return "".join(parts) + text[position:]
