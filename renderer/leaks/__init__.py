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
from collections.abc import Callable
from typing import Any

from renderer.cache.memo import Memo
from renderer.leaks import tokens
from renderer.leaks.rules import PATTERNS as _PATTERNS
from renderer.leaks.rules import WORK, After, Anchored, Rule
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
    return _rules(text) + [label for _start, _end, _kind, label in _token_spans(text, decode=False)]


def _no_inner(_text: str) -> list[str]:
    return []


SHORTEST_MATCH = 7
"""No rule (nor tokens.RUN) matches fewer characters (tests/test_perf_caches.py proves it):
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
        found += [label for _start, _end, _kind, label in _token_spans(text, path.endswith(DIGEST_FILES))]
    return list(dict.fromkeys(found))


def scan_text(path: str, text: str) -> list[str]:
    """Findings in raw text (any file type), without quoting the material found."""
    if len(text) < SHORTEST_MATCH:
        return []
    text = _visible(text)  # drops no newline: line numbers stay
    findings = [f"contains {label}" for label in _rules(text)]
    if len(text) < _LINE_MIN:
        return findings
    line, counted = 1, 0
    located = []
    for start, end, kind, label in _token_spans(text, path.endswith(DIGEST_FILES)):
        line += text.count("\n", counted, start)  # spans come in order: forward only
        counted = start
        located.append((line, kind, start, f"line {line}: contains {label} ({end - start} characters)"))
    located.sort(key=lambda item: item[:3])  # per line: tokens, then hex tokens (as they always were listed)
    return findings + [finding for _line, _kind, _start, finding in located]


_LINES: Memo[tuple[tuple[int, int, int, str], ...]] = Memo(max_entries=4096, max_chars=1_000_000)
"""Token findings by the exact line: a fleet's bootstrap scripts share most of their lines."""


def _token_spans(text: str, digests: bool = False, decode: bool = True) -> list[tuple[int, int, int, str]]:
    """(start, end, kind, label) of each high-entropy, base64-hidden (kind 0) or 64-hex (kind 1) token, in order;
    line by line through the memo (a token never spans lines)."""
    found: list[tuple[int, int, int, str]] = []
    if not decode:
        return _line_spans(text, _no_inner)
    offset = 0
    for line in text.split("\n"):
        if len(line) >= _LINE_MIN:
            spans_of = _LINES.get(line)
            if spans_of is None:
                spans_of = _LINES.put(line, tuple(_line_spans(line, _inner)), len(line))
            found += [(offset + start, offset + end, kind, label) for start, end, kind, label in spans_of
                      if not (digests and kind)]
        offset += len(line) + 1
    return found


def _line_spans(text: str, inner: Callable[[str], list[str]]) -> list[tuple[int, int, int, str]]:
    found: list[tuple[int, int, int, str]] = []
    WORK[0] += len(text)
    for match in tokens.RUN.finditer(text):
        token = match.group(0)
        if not tokens.worth_a_look(token):
            continue
        found += [(match.start(), match.end(), 0, label) for label in tokens.token_labels(token, inner)]
        if len(token) >= 64:
            found += [(start, end, 1, label) for start, end, label in tokens.hex_spans(text, match.start(), token)]
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
    if len(visible) >= _LINE_MIN:
        found += [(start, end, label) for start, end, _kind, label in _token_spans(visible)]
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
        findings.extend(f"contains {label}" for label in _rules(_visible(_SEPARATOR.join(strings))))
    if kind == "Secret" and (obj.get("data") or obj.get("stringData")):
        findings.append("Secret with data/stringData: secrets must not be rendered into git")
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    if kind == "LicenseKey" and (spec.get("token") or spec.get("certificate")):
        findings.append("LicenseKey with a token: the license reaches the cluster by reference only")
    return findings
