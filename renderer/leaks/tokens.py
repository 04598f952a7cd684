"""The token pass: high-entropy tokens, 64-hex tokens, and secrets hidden in base64.

Runs of token characters are taken by one possessive pattern: a run of 12 or more is consumed whole, and a
shorter one costs at most 12 steps per position, so the pass is linear; every check below costs time linear in
its run. A token never spans lines (no newline is a token character).
"""

from __future__ import annotations

import binascii
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable

from renderer.leaks.rules import WORK

RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}+={0,2}")
"""A maximal run of base64 (standard or URL-safe) characters: a token candidate. Possessive: once a run of 12
or more is found, re never restarts inside it (no lookbehind: re skips non-token characters by its first-character
set, far faster than a lookbehind tried at every position)."""
TOKEN_MIN = 40
"""The shortest run weighed as a high-entropy token; shorter ones are only decoded as base64."""
BASE64_MIN = 12
HEX64 = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_LOWER_RUN = re.compile(r"[a-z]{3,}")
_CLASSES = (re.compile("[a-z]"), re.compile("[A-Z]"), re.compile("[0-9]"))
_USER_PASSWORD = re.compile(r"[^\s:]{1,255}:(?!//)\S{3,}")
_TEXT_START = frozenset("IJKLMNOPQRSTUVWXYZabcdef")
"""Base64 of printable ASCII: each 4-character group starts with one of these (the top 6 bits of 0x20..0x7E)."""


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _class_changes(token: str) -> float:
    """How often the character class (lower, upper, digit, other) changes from one character to the next."""
    kinds = token.translate(_KINDS)
    return sum(a != b for a, b in itertools.pairwise(kinds)) / len(token)


_KINDS = str.maketrans({**{chr(c): "l" for c in range(97, 123)}, **{chr(c): "u" for c in range(65, 91)},
                        **{chr(c): "d" for c in range(48, 58)}, **dict.fromkeys("+/_-=.~", "o")})


def reads_as_words(token: str) -> bool:
    """Names and paths written in words (`Production/Tigera/PullSecretDockerConfigJson01`): most characters in
    lower-case runs of 3 or more, few class changes, and vowels as often as in words.

    A random base64 token passes all three about once in 100,000 (40 to 48 characters, measured on 10^6
    samples); an External Secrets key, a label value or a path in a description nearly always does."""
    runs = "".join(_LOWER_RUN.findall(token))
    if len(runs) < 0.55 * len(token):
        return False
    vowels = sum(runs.count(vowel) for vowel in "aeiou")
    return vowels >= 0.35 * len(runs) and _class_changes(token) <= 0.4


def looks_random(token: str) -> bool:
    classes = sum(bool(pattern.search(token)) for pattern in _CLASSES)
    return classes >= 3 and entropy(token) >= 4.2 and not reads_as_words(token)


def token_label(token: str) -> str:
    if len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return "an Exoscale API secret"
    return "a high-entropy token"


def _is_hex_token(line: str, start: int, token: str) -> bool:
    """Random hex (a token, or a digest that does not say so): digits and letters mixed, not `aaaa...`."""
    labelled = line[max(0, start - 7):start].lower() in ("sha256:", "sha256 ", "sha256=")
    return not labelled and not token.isdigit() and not token.isalpha() and entropy(token) >= 3.0


def decoded_text(token: str) -> str:
    """The printable ASCII text `token` is the base64 of ('' when it is not: most words are not)."""
    body = token.rstrip("=")
    if len(body) % 4 == 1 or not _TEXT_START.issuperset(body[::4]):
        return ""
    try:
        data = binascii.a2b_base64(body.replace("-", "+").replace("_", "/") + "=" * (-len(body) % 4),
                                   strict_mode=False)
    except binascii.Error:
        return ""
    if not data.isascii():
        return ""
    text = data.decode("ascii")
    return text if text.isprintable() else ""


def base64_labels(token: str, inner: Callable[[str], list[str]]) -> list[str]:
    """What the base64 text of `token` hides: `inner` (the rules) on the decoded text, or a `user:password`."""
    text = decoded_text(token)
    if not text:
        return []
    WORK[0] += len(text)
    found = [f"{label} (base64-encoded)" for label in inner(text)]
    if not found and _USER_PASSWORD.fullmatch(text):
        found.append("a base64 user:password (a docker registry auth)")
    return found


def worth_a_look(token: str) -> bool:
    """A run long enough to weigh, or one that may be the base64 of text (see decoded_text): most are neither."""
    return len(token) >= TOKEN_MIN or _TEXT_START.issuperset(token[:12:4])


def token_labels(token: str, inner: Callable[[str], list[str]]) -> tuple[str, ...]:
    """What one whole run is: a high-entropy token, or the base64 of secret material (empty when neither)."""
    WORK[0] += len(token)
    if len(token) >= TOKEN_MIN and looks_random(token):
        return (token_label(token),)
    return tuple(base64_labels(token, inner))


def hex_spans(text: str, start: int, token: str) -> list[tuple[int, int, str]]:
    """64-hex tokens inside the run `token` at `start` of `text` (every hex run bounded by non-alphanumerics lies
    inside a run of 64+ characters)."""
    return [(start + found.start(), start + found.end(), "a 64-character hex token") for found in HEX64.finditer(token)
            if _is_hex_token(text, start + found.start(), found.group(0))]
