"""Secret-leak guard: refuse any input or rendered file that carries secret material.

The tree holds references only. This runs on every values string and key and on every rendered
tree before it is written, so a template or value that would put a token, key or pull secret
into git fails the render. The same rules decide what the tool may print (renderer/leaks/redact.py).

Hand-written rules, not detect-secrets: that library costs ~180 ms of imports and ~30 ms per
rendered file here (the whole per-cluster budget is ~10 ms; README, Performance), and its
entropy plugins flag every sha256 digest. Each rule below is one credential format of this
stack, found by a literal every match must contain (a substring test) and then a regex.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from renderer.cache.memo import Memo

_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*(PRIVATE KEY|CERTIFICATE|OPENSSH|PGP|ENCRYPTED)[A-Z0-9 ]*-----")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
_TOKEN_MIN = 40
_HEX64 = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_DOCKERCONFIG = re.compile(r'\\?"auths\\?"\s*:\s*\{\s*\\?"[^"\\]+\\?"\s*:\s*\{[^}]*\\?"(auth|password|identitytoken)'
                           r'\\?"\s*:\s*\\?"[^"\\]+')
_AWS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")
_EXOSCALE_KEY = re.compile(r"\bEXO[0-9a-fA-F]{24}\b")
"""EXO + 24 hex (egoscale v2/client_test.go: testAPIKey "EXOxxxxxxxxxxxxxxxxxxxxxxxx"); the secret is 43
base64url characters (testAPISecret), found as a high-entropy token below."""
_URL_USERINFO = re.compile(r"://[^/\s:@'\"<>]+:[^/\s@'\"<>]+@")
_GITLAB = re.compile(r"\bglpat-[0-9A-Za-z_-]{20,}")
_GITHUB = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")
_GOOGLE = re.compile(r"\bAIza[0-9A-Za-z_-]{35}")
_STRIPE = re.compile(r"\b[rs]k_(?:live|test)_[0-9a-zA-Z]{20,}")
_SLACK = re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}")
_PASSWORD = re.compile(r"(?i)(?:(?<![A-Za-z0-9])pass(?:word|wd|phrase)|(?<=api)secret|(?<=api[_-])secret"
                       r"|(?<=client)secret|(?<=client[_-])secret|(?<![A-Za-z0-9])secret[_-]key"
                       r"|(?<![A-Za-z0-9])secret_access_key)[\"']?\s*[:=]\s*[\"']?(?![\"'$<{(%])[^\s\"']{3,}")
_KUBECONFIG_KEY = re.compile(r"\bclient-(?:key|certificate)-data[\"']?\s*:\s*[\"']?[A-Za-z0-9+/=]{16,}")
_LICENSE = re.compile(r"(?<![A-Za-z0-9_])(?:token|certificate)[\"']?\s*:\s*[\"']?[A-Za-z0-9+/=._-]{16,}")
"""A license field with content, looked for in the 2000 characters after each `LicenseKey`."""


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

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text)


class _Keyword:
    """`pattern.search`, tried only where one of `words` starts (case-insensitive): a pattern that starts with
    a case-insensitive alternation has no literal prefix for re to skip ahead with."""

    def __init__(self, pattern: re.Pattern[str], words: tuple[str, ...]) -> None:
        self.pattern, self.words = pattern, words

    def search(self, text: str) -> bool:
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters change length in lower case: offsets would drift
            return bool(self.pattern.search(text))
        for word in self.words:
            found = lowered.find(word)
            while found >= 0:
                if self.pattern.match(text, found):
                    return True
                found = lowered.find(word, found + 1)
        return False

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text)


class _After:
    """`pattern` matched where one of `words` starts within `window` characters after each `literal`."""

    def __init__(self, literal: str, words: tuple[str, ...], pattern: re.Pattern[str], window: int) -> None:
        self.literal, self.words, self.pattern, self.window = literal, words, pattern, window

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        start = text.find(self.literal)
        while start >= 0:
            end = start + len(self.literal) + self.window
            for word in self.words:
                found = text.find(word, start, end)
                while found >= 0:
                    match = self.pattern.match(text, found)
                    if match:
                        yield match
                    found = text.find(word, found + 1, end)
            start = text.find(self.literal, start + 1)

    def search(self, text: str) -> bool:
        return next(self.finditer(text), None) is not None


_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str] | _Anchored | _Keyword | _After, str], ...] = (
    (("-----BEGIN ",), _PEM, "a PEM key or certificate block"),
    ((".eyJ",), _JWT, "a JWT"),
    (("auths",), _Anchored(_DOCKERCONFIG, "auths", (1,)), "a docker config with credentials"),
    (("AKIA", "ASIA"), _AWS_KEY, "an AWS access key id"),
    (("EXO",), _EXOSCALE_KEY, "an Exoscale API key"),
    (("://",), _URL_USERINFO, "a URL with a password"),
    (("glpat-",), _GITLAB, "a GitLab token"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), _GITHUB, "a GitHub token"),
    (("AIza",), _GOOGLE, "a Google API key"),
    (("k_live_", "k_test_"), _STRIPE, "a Stripe key"),
    (("xox",), _SLACK, "a Slack token"),
    (("ass", "ASS", "ecret", "ECRET"), _Keyword(_PASSWORD, ("pass", "secret")), "a password or secret assignment"),
    (("client-key-data", "client-certificate-data"), _KUBECONFIG_KEY, "a kubeconfig client key"),
    (("LicenseKey",), _After("LicenseKey", ("token", "certificate"), _LICENSE, 2000), "a Tigera license"),
)
"""Each pattern with literals that any match must contain: a substring test (far cheaper than a
regex search, which re tries at every position) rules most texts out; the regex still decides.
A docker config match can always start at the quote right before "auths" (its leading backslash is optional).
The password rule's literals are the spellings its keywords share ("ass" in password/passwd/passphrase)."""

_ANY_LITERAL = re.compile("|".join(re.escape(literal) for literals, _rule, _label in _PATTERNS for literal in literals))
"""One C-level search for any rule's literal: most short strings hold none, and then no rule needs a look."""


def _rules(text: str) -> list[str]:
    """Labels of the rules that match `text` (the token pass aside)."""
    if not _ANY_LITERAL.search(text):
        return []
    contains = text.__contains__  # any(map(...)) stays in C: no generator frame per literal
    return [label for literals, pattern, label in _PATTERNS if any(map(contains, literals)) and pattern.search(text)]


SHORTEST_MATCH = 7
"""No pattern above (nor _TOKEN) matches fewer characters (tests/test_perf_caches.py proves it):
shorter strings need no search at all."""

DIGEST_FILES = (".sks-gitops-owned.json",)
"""Files that are sha256 digests by construction (written by the renderer, never from input)."""


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(candidate: str) -> bool:
    classes = sum(bool(re.search(pattern, candidate)) for pattern in ("[a-z]", "[A-Z]", "[0-9]"))
    return classes >= 3 and entropy(candidate) >= 4.2


def _token_label(token: str) -> str:
    if len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return "an Exoscale API secret"
    return "a high-entropy token"


def _is_hex_token(line: str, start: int, token: str) -> bool:
    """Random hex (a token, or a digest that does not say so): digits and letters mixed, not `aaaa...`."""
    labelled = line[max(0, start - 7):start].lower() in ("sha256:", "sha256 ", "sha256=")
    return not labelled and not token.isdigit() and not token.isalpha() and entropy(token) >= 3.0


def labels(text: str, path: str = "") -> list[str]:
    """What kinds of secret material `text` holds (empty when none), each named once."""
    if len(text) < SHORTEST_MATCH:
        return []
    found = _rules(text)
    if len(text) >= _TOKEN_MIN:
        for line in text.split("\n"):
            if len(line) >= _TOKEN_MIN:
                found.extend(label for label, _length in _line_tokens(line, path.endswith(DIGEST_FILES)))
    return list(dict.fromkeys(found))


def scan_text(path: str, text: str) -> list[str]:
    """Findings in raw text (any file type), without quoting the material found."""
    if len(text) < SHORTEST_MATCH:
        return []
    findings = [f"contains {label}" for label in _rules(text)]
    if len(text) < _TOKEN_MIN:
        return findings
    digests = path.endswith(DIGEST_FILES)
    for number, line in enumerate(text.split("\n"), start=1):  # a token never spans lines
        if len(line) >= _TOKEN_MIN and (tokens := _line_tokens(line, digests)):
            findings.extend(f"line {number}: contains {label} ({length} characters)" for label, length in tokens)
    return findings


_LINES: Memo[tuple[tuple[str, int], ...]] = Memo(max_entries=4096, max_chars=1_000_000)
"""Token findings by the exact line: a fleet's bootstrap scripts share most of their lines."""


def _line_tokens(line: str, digests: bool = False) -> tuple[tuple[str, int], ...]:
    """(label, length) of each high-entropy or 64-hex token in one line (no newline inside)."""
    found = _LINES.get(line)
    if found is None:
        found = _LINES.put(line, tuple(
            (label, end - start) for start, end, label in _token_spans(line)), len(line))
    if digests:
        return tuple(item for item in found if item[0] != "a 64-character hex token")
    return found


def _token_spans(line: str) -> list[tuple[int, int, str]]:
    """High-entropy tokens, then 64-hex tokens (looked for only inside candidate tokens of 64+ characters:
    every hex run bounded by non-alphanumerics lies inside one)."""
    spans, hexes = [], []
    for match in _TOKEN.finditer(line):
        token = match.group(0)
        if _looks_random(token):
            spans.append((match.start(), match.end(), _token_label(token)))
        if len(token) >= 64:
            hexes += [(match.start() + found.start(), match.start() + found.end(), "a 64-character hex token")
                      for found in _HEX64.finditer(token) if _is_hex_token(line, match.start() + found.start(),
                                                                           found.group(0))]
    return spans + hexes


def spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every secret-shaped span: what redact.scrub replaces before printing."""
    found: list[tuple[int, int, str]] = []
    if len(text) < SHORTEST_MATCH:
        return found
    for literals, pattern, label in _PATTERNS:
        if any(literal in text for literal in literals):
            found += [(match.start(), match.end(), label) for match in pattern.finditer(text)]
    offset = 0
    for line in text.split("\n"):
        if len(line) >= _TOKEN_MIN:
            found += [(offset + start, offset + end, label) for start, end, label in _token_spans(line)]
        offset += len(line) + 1
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
