"""Secret-leak guard: refuse any rendered file or object that carries secret material.

The tree holds references only. This runs on every rendered tree before it is written,
so a template or value that would put a token, key or pull secret into git fails the render.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from renderer.memo import Memo

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|CERTIFICATE|OPENSSH|PGP|ENCRYPTED)[A-Z0-9 ]*-----")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
_TOKEN_MIN = 40
_DOCKERCONFIG = re.compile(r'\\?"auths\\?"\s*:\s*\{\s*\\?"[^"\\]+\\?"\s*:\s*\{[^}]*\\?"(auth|password|identitytoken)'
                           r'\\?"\s*:\s*\\?"[^"\\]+')
_AWS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")



class _Anchored:
    """`pattern.search`, tried only where a match can start: `offsets` characters before each `literal`.

    For a pattern without a literal prefix re tries every position of the text; a rendered script
    that mentions the literal once would otherwise pay a full search."""

    def __init__(self, pattern: re.Pattern[str], literal: str, offsets: tuple[int, ...]) -> None:
        self.pattern, self.literal, self.offsets = pattern, literal, offsets

    def search(self, text: str) -> bool:
        found = text.find(self.literal)
        while found >= 0:
            if any(self.pattern.match(text, found - offset) for offset in self.offsets if found >= offset):
                return True
            found = text.find(self.literal, found + 1)
        return False


_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str] | _Anchored, str], ...] = (
    (("-----BEGIN ",), _PEM, "contains a PEM key or certificate block"),
    ((".eyJ",), _JWT, "contains a JWT-like token"),
    (("auths",), _Anchored(_DOCKERCONFIG, "auths", (1,)), "contains a docker config with credentials"),
    (("AKIA", "ASIA"), _AWS_KEY, "contains a cloud access key id"),
)
"""Each pattern with literals that any match must contain: a substring test (far cheaper than a
regex search, which re tries at every position) rules most texts out; the regex still decides.
A docker config match can always start at the quote right before "auths" (its leading backslash is optional)."""

SHORTEST_MATCH = 19
"""No pattern above (nor _TOKEN) matches fewer characters (tests/test_perf_caches.py proves it):
most strings inside an object are shorter and need no search at all."""


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(candidate: str) -> bool:
    classes = sum(bool(re.search(pattern, candidate)) for pattern in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 3 and entropy(candidate) >= 4.2


def scan_text(path: str, text: str) -> list[str]:
    """Findings in raw text (any file type), without quoting the material found."""
    if len(text) < SHORTEST_MATCH:
        return []
    findings = [finding for literals, pattern, finding in _PATTERNS
                if any(literal in text for literal in literals) and pattern.search(text)]
    if len(text) < _TOKEN_MIN:
        return findings
    for number, line in enumerate(text.split("\n"), start=1):  # a token never spans lines
        if len(line) >= _TOKEN_MIN and (lengths := _token_lengths(line)):
            findings.extend(f"line {number}: contains a high-entropy token ({length} characters)" for length in lengths)
    return findings


_LINES: Memo[tuple[int, ...]] = Memo(max_entries=4096, max_chars=1_000_000)
"""Token findings by the exact line: a fleet's bootstrap scripts share most of their lines."""


def _token_lengths(line: str) -> tuple[int, ...]:
    """The length of each high-entropy token in one line (no newline inside)."""
    found = _LINES.get(line)
    if found is None:
        lengths = tuple(len(match.group(0)) for match in _TOKEN.finditer(line) if _looks_random(match.group(0)))
        found = _LINES.put(line, lengths, len(line))
    return found


def _string_values(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in _string_values(value)]
    if isinstance(node, list):
        return [text for value in node for text in _string_values(value)]
    return [node] if isinstance(node, str) else []


def scan_object(obj: dict[str, Any]) -> list[str]:
    """Findings in one parsed object: secret kinds and fields, and secrets inside decoded strings."""
    findings = []
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            if isinstance(item, dict):
                findings.extend(scan_object(item))
    for text in _string_values(obj):
        findings.extend(finding for finding in scan_text("", text) if not finding.startswith("line "))
    if kind == "Secret" and (obj.get("data") or obj.get("stringData")):
        findings.append("Secret with data/stringData: secrets must not be rendered into git")
    spec = obj.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    if kind == "LicenseKey" and (spec.get("token") or spec.get("certificate")):
        findings.append("LicenseKey with a token: the license reaches the cluster by reference only")
    return findings
