"""Secret-leak guard: refuse any input or rendered file that carries secret material.

The tree holds references only. This runs on every values string and key and on every rendered
tree before it is written, so a template or value that would put a token, key or pull secret
into git fails the render. The same rules decide what the tool may print (renderer/leaks/redact.py).

Hand-written rules, not detect-secrets: that library costs ~180 ms of imports and ~30 ms per
rendered file here (the whole per-cluster budget is ~10 ms; README, Performance), and its
entropy plugins flag every sha256 digest. The rules that look for a literal are in
renderer/leaks/rules.py, the token pass (entropy, hex, base64) in renderer/leaks/tokens.py; every one
costs time linear in the text (rules.py says why). Zero-width characters are dropped before any rule
looks, so one inside a key does not hide it.
"""

from __future__ import annotations

import re
from typing import Any

from renderer.cache.memo import Memo
from renderer.leaks import tokens
from renderer.leaks.rules import PATTERNS as _PATTERNS
from renderer.leaks.rules import WORK, After, Anchored, Rule
from renderer.leaks.tokens import TOKEN_MIN as _TOKEN_MIN
from renderer.leaks.tokens import entropy

__all__ = ["WORK", "After", "Anchored", "Rule", "entropy", "labels", "scan_object", "scan_text", "spans"]

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
"""Soft hyphen, zero-width spaces and joiners, direction marks, word joiner, invisible operators, BOM:
they print as nothing, so `EXO12\u200b34...` reads as a key to whoever copies it."""


def _visible(text: str) -> str:
    return _INVISIBLE.sub("", text) if _INVISIBLE.search(text) else text


_ANY_LITERAL = re.compile("|".join(re.escape(literal) for literals, _rule, _label in _PATTERNS for literal in literals))
"""One C-level search for any rule's literal: most short strings hold none, and then no rule needs a look."""


def _rules(text: str) -> list[str]:
    """Labels of the rules that match `text` (the token pass aside)."""
    WORK[0] += len(text)
    if not _ANY_LITERAL.search(text):
        return []
    contains = text.__contains__  # any(map(...)) stays in C: no generator frame per literal
    return [label for literals, rule, label in _PATTERNS if any(map(contains, literals)) and rule.search(text)]


def _inner(text: str) -> list[str]:
    """The rules on a base64-decoded text (one level: decoded text is not decoded again)."""
    return _rules(text) + [label for line in text.split("\n") if len(line) >= _TOKEN_MIN
                           for _start, _end, label in tokens.token_spans(line, _no_inner)]


def _no_inner(_text: str) -> list[str]:
    return []


SHORTEST_MATCH = 7
"""No pattern above (nor _TOKEN) matches fewer characters (tests/test_perf_caches.py proves it):
shorter strings need no search at all."""

DIGEST_FILES = (".sks-gitops-owned.json",)
"""Files that are sha256 digests by construction (written by the renderer, never from input)."""


_LINE_MIN = tokens.BASE64_MIN
"""Lines shorter than the shortest base64 candidate hold no token."""


def labels(text: str, path: str = "") -> list[str]:
    """What kinds of secret material `text` holds (empty when none), each named once."""
    if len(text) < SHORTEST_MATCH:
        return []
    text = _visible(text)
    found = _rules(text)
    if len(text) >= _LINE_MIN:
        for line in text.split("\n"):
            if len(line) >= _LINE_MIN:
                found.extend(label for label, _length in _line_tokens(line, path.endswith(DIGEST_FILES)))
    return list(dict.fromkeys(found))


def scan_text(path: str, text: str) -> list[str]:
    """Findings in raw text (any file type), without quoting the material found."""
    if len(text) < SHORTEST_MATCH:
        return []
    text = _visible(text)  # drops no newline: line numbers stay
    findings = [f"contains {label}" for label in _rules(text)]
    if len(text) < _LINE_MIN:
        return findings
    digests = path.endswith(DIGEST_FILES)
    for number, line in enumerate(text.split("\n"), start=1):  # a token never spans lines
        if len(line) >= _LINE_MIN and (found := _line_tokens(line, digests)):
            findings.extend(f"line {number}: contains {label} ({length} characters)" for label, length in found)
    return findings


_LINES: Memo[tuple[tuple[str, int], ...]] = Memo(max_entries=4096, max_chars=1_000_000)
"""Token findings by the exact line: a fleet's bootstrap scripts share most of their lines."""


def _line_tokens(line: str, digests: bool = False) -> tuple[tuple[str, int], ...]:
    """(label, length) of each high-entropy, base64-hidden or 64-hex token in one line (no newline inside)."""
    found = _LINES.get(line)
    if found is None:
        found = _LINES.put(line, tuple(
            (label, end - start) for start, end, label in tokens.token_spans(line, _inner)), len(line))
    if digests:
        return tuple(item for item in found if item[0] != "a 64-character hex token")
    return found


def spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every secret-shaped span: what redact.scrub replaces before printing.

    Positions are in `text` as given: found in its visible characters, then mapped back."""
    found: list[tuple[int, int, str]] = []
    if len(text) < SHORTEST_MATCH:
        return found
    visible = _visible(text)
    for literals, rule, label in _PATTERNS:
        if any(literal in visible for literal in literals):
            found += [(start, end, label) for start, end in rule.finditer(visible)]
    offset = 0
    for line in visible.split("\n"):
        if len(line) >= _LINE_MIN:
            found += [(offset + start, offset + end, label) for start, end, label in tokens.token_spans(line, _inner)]
        offset += len(line) + 1
    if visible is not text:
        kept = [index for index, char in enumerate(text) if not _INVISIBLE.match(char)]
        found = [(kept[start], kept[end - 1] + 1 if end > start else kept[start], label) for start, end, label in found]
    return sorted(found)


_SEPARATOR = "\n\x00\n"


def _string_values(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (key, *_string_values(value)) if isinstance(text, str)]
    if isinstance(node, list):
        return [text for value in node for text in _string_values(value)]
    return [node] if isinstance(node, str) else []


def scan_object(obj: dict[str, Any]) -> list[str]:
    """Findings in one parsed object: secret kinds and fields, and secrets inside decoded strings (keys too)."""
    findings = []
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            if isinstance(item, dict):
                findings.extend(scan_object(item))
    strings = _string_values(obj)
    if strings:  # one pass over all of them; no rule matches across the separator (NUL ends every \s run)
        findings.extend(f"contains {label}" for label in _rules(_SEPARATOR.join(strings)))
    if kind == "Secret" and (obj.get("data") or obj.get("stringData")):
        findings.append("Secret with data/stringData: secrets must not be rendered into git")
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    if kind == "LicenseKey" and (spec.get("token") or spec.get("certificate")):
        findings.append("LicenseKey with a token: the license reaches the cluster by reference only")
    return findings
