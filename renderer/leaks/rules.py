"""The leak rules that look for a format's literal (a prefix, a key name), each with a bound on its match width.

Why every rule costs time linear in the text (issue 21: a 126 KB value once took 24 s, a 990 KB values file
8 minutes, because a `[^}]*` ran to the end of the text from every `"auths"`):
- every head pattern has a finite maximum width (tests/test_leak_linear.py checks it with re's own parser),
  so one attempt at one position looks at a bounded number of characters;
- each rule tries each position of the text at most once: `search` scans forward from where the last match
  ended (str.find for a literal, re's own scan otherwise), never backwards;
- a match's unbounded rest (a long token) is taken by a possessive run of one character class (`tail`), and
  the next attempt starts after it, so no character is in two tails.
`WORK` counts the characters each rule is handed (positions tried, plus tails): the tests assert it stays
within a constant times the text's length on hostile input, where counting regex steps is not possible.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

WORK = [0]
"""Characters handed to the rules since the last reset: positions each scan starts from, plus tails."""


class Rule:
    """`head` tried at every position (re's own scan, helped by its literal prefix), extended by `tail`."""

    def __init__(self, head: re.Pattern[str], tail: re.Pattern[str] | None = None) -> None:
        self.pattern, self.tail = head, tail

    def _attempts(self, text: str, pos: int) -> re.Match[str] | None:
        match = self.pattern.search(text, pos)
        WORK[0] += (match.end() if match else len(text)) - pos
        return match

    def search(self, text: str) -> bool:
        return self._attempts(text, 0) is not None

    def finditer(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) of each match, tails included; the scan resumes after the tail."""
        pos = 0
        while pos <= len(text):
            match = self._attempts(text, pos)
            if match is None:
                return
            end = match.end()
            if self.tail is not None:
                end = self.tail.match(text, end).end()  # type: ignore[union-attr]  # `*+` always matches
                WORK[0] += end - match.end()
            yield match.start(), end
            pos = max(end, match.start() + 1)


class Anchored(Rule):
    """`head` tried only where a match can start: `offset` characters before each of `literals` (str.find,
    in lower case when `fold`), each literal in its own forward pass.

    For a pattern without a literal prefix re tries every position of the text; a rendered script
    that mentions the literal once would otherwise pay a full search."""

    def __init__(self, head: re.Pattern[str], literals: tuple[str, ...], offset: int = 0,
                 tail: re.Pattern[str] | None = None, fold: bool = False) -> None:
        super().__init__(head, tail)
        self.literals, self.offset, self.fold = literals, offset, fold

    def search(self, text: str) -> bool:
        return next(self.finditer(text), None) is not None

    def finditer(self, text: str) -> Iterator[tuple[int, int]]:
        haystack = text.lower() if self.fold else text
        if len(haystack) != len(text):  # a few characters change length in lower case: offsets would drift
            yield from super().finditer(text)
            return
        found: list[tuple[int, int]] = []
        for literal in self.literals:
            WORK[0] += len(text)  # one str.find pass over the text per literal
            position = haystack.find(literal, self.offset)
            while position >= 0:
                WORK[0] += 1
                match = self.pattern.match(text, position - self.offset)
                if not match:
                    position = haystack.find(literal, position + 1)
                    continue
                end = match.end()
                if self.tail is not None:
                    end = self.tail.match(text, end).end()  # type: ignore[union-attr]  # `*+` always matches
                    WORK[0] += end - match.end()
                if not self.fold and len(self.literals) == 1:
                    yield match.start(), end  # the common case: in order, no list
                else:
                    found.append((match.start(), end))
                position = haystack.find(literal, max(end, position + 1))
        yield from sorted(found)


class After:
    """`head` matched where one of `words` starts within `window` characters after any `literal`.

    One pass over each word's occurrences and one over the literal's, merged: a text that repeats the
    literal does not rescan the window once per repetition."""

    def __init__(self, literal: str, words: tuple[str, ...], head: re.Pattern[str], window: int,
                 tail: re.Pattern[str] | None = None) -> None:
        self.literal, self.words, self.pattern, self.window, self.tail = literal, words, head, window, tail

    def finditer(self, text: str) -> Iterator[tuple[int, int]]:
        anchors = _positions(text, self.literal)
        if not anchors:
            return
        for word in self.words:
            index, last_end = 0, -1
            for found in _positions(text, word):
                while index < len(anchors) and anchors[index] <= found:
                    index += 1
                if found < last_end or index == 0 or found - anchors[index - 1] > len(self.literal) + self.window:
                    continue
                match = self.pattern.match(text, found)
                WORK[0] += 1
                if match:
                    end = match.end()
                    if self.tail is not None:
                        end = self.tail.match(text, end).end()  # type: ignore[union-attr]
                        WORK[0] += end - match.end()
                    last_end = end
                    yield found, end

    def search(self, text: str) -> bool:
        return next(self.finditer(text), None) is not None


def _positions(text: str, literal: str) -> list[int]:
    found, start = [], text.find(literal)
    while start >= 0:
        found.append(start)
        start = text.find(literal, start + 1)
    WORK[0] += len(text)
    return found


def _tail(char_class: str) -> re.Pattern[str]:
    return re.compile(f"[{char_class}]*+")


_B64URL = "A-Za-z0-9_-"
_SP = r"\s{0,16}"
"""Blanks around a `:` or `=` (a bound: `\\s*` would make a match's width, and so a failed attempt, unbounded)."""

PEM = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}(PRIVATE KEY|CERTIFICATE|OPENSSH|PGP|ENCRYPTED)[A-Z0-9 ]{0,40}-----")
JWT = re.compile(rf"(?<![{_B64URL}])eyJ[{_B64URL}]{{8,2048}}+\.eyJ[{_B64URL}]{{8}}")
"""Header (at most 2 KB; real ones are under 300 characters) and the payload's first 8 characters; the rest of
the payload and the signature are the tail."""
JWT_TAIL = re.compile(rf"[{_B64URL}]*+(?:\.[{_B64URL}]*+)?")
DOCKER_CREDENTIAL = re.compile(rf'\\?"(?:auth|password|identitytoken)\\?"{_SP}:{_SP}\\?"(?![$<{{(%])[^"\\\s]')
"""A docker config's credential field (config.json `auths.<registry>.auth|password|identitytoken`), found by its
own key: the enclosing `"auths"` is not needed, and looking for it was the quadratic part."""
AWS_KEY = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
EXOSCALE_KEY = re.compile(r"EXO[0-9a-fA-F]{24}")
"""EXO + 24 hex (egoscale v2/client_test.go: testAPIKey "EXOxxxxxxxxxxxxxxxxxxxxxxxx"), glued to anything: no
word boundary on either side (`key_EXO…` is still a key). The secret is 43 base64url characters (testAPISecret),
found as a high-entropy token (renderer/leaks/tokens.py)."""
URL_USERINFO = re.compile(r"://[^/\s:@'\"<>]{1,256}:[^/\s@'\"<>]{1,256}@")
GITLAB = re.compile(r"glpat-[0-9A-Za-z_-]{20}")
GITHUB = re.compile(r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}")
GOOGLE = re.compile(r"AIza[0-9A-Za-z_-]{35}")
STRIPE = re.compile(r"[rs]k_(?:live|test)_[0-9a-zA-Z]{20}")
SLACK = re.compile(r"xox[abposr]-[0-9A-Za-z-]{10}")
AGE_KEY = re.compile(r"(?i)AGE-SECRET-KEY-1[02-9ac-hj-np-z]{50}")
"""An age X25519 identity: `AGE-SECRET-KEY-1` and 58 bech32 characters (filippo.io/age, age.go: the
"AGE-SECRET-KEY-" HRP, upper case); what a SOPS user keeps in ~/.config/sops/age/keys.txt."""
PASSWORD = re.compile(r"(?i)(?:(?<![A-Za-z0-9])pass(?:word|wd|phrase)|(?<=api)secret|(?<=api[_-])secret"
                      r"|(?<=client)secret|(?<=client[_-])secret|(?<![A-Za-z0-9])secret[_-]key"
                      rf"|(?<![A-Za-z0-9])secret_access_key)[\"']?{_SP}[:=]{_SP}[\"']?(?![\"'$<{{(%])[^\s\"']{{3}}")
KUBECONFIG_KEY = re.compile(rf"client-(?:key|certificate)-data[\"']?{_SP}:{_SP}[\"']?[A-Za-z0-9+/=]{{16}}")
BEARER_TOKEN = re.compile(rf"(?<![A-Za-z0-9_-])token\\?[\"']?{_SP}:{_SP}\\?[\"']?[A-Za-z0-9+/=._~-]{{16}}")
"""A `token:` with a value: a kubeconfig user's bearer token (JWT or not: `kubeadm` tokens, Exoscale SKS
kubeconfigs), a license's token. `bearerToken:`, `tokenFile:` and templated values (`{{ .token }}`) are not."""
LICENSE = re.compile(rf"(?<![A-Za-z0-9_])certificate[\"']?{_SP}:{_SP}[\"']?[A-Za-z0-9+/=._-]{{16}}")
"""A license certificate with content, looked for in the 2000 characters after each `LicenseKey`."""

PATTERNS: tuple[tuple[tuple[str, ...], Rule | After, str], ...] = (
    (("-----BEGIN ",), Rule(PEM), "a PEM key or certificate block"),
    (("eyJ",), Rule(JWT, JWT_TAIL), "a JWT"),
    (("auth", "password", "identitytoken"), Anchored(DOCKER_CREDENTIAL, ("auth", "password", "identitytoken"), 1,
                                                     _tail('^"\\\\\\s')),
     "a docker config with credentials"),
    (("AKIA", "ASIA"), Rule(AWS_KEY), "an AWS access key id"),
    (("EXO",), Rule(EXOSCALE_KEY), "an Exoscale API key"),
    (("://",), Rule(URL_USERINFO), "a URL with a password"),
    (("glpat-",), Rule(GITLAB, _tail("0-9A-Za-z_-")), "a GitLab token"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), Rule(GITHUB, _tail("A-Za-z0-9_")), "a GitHub token"),
    (("AIza",), Rule(GOOGLE, _tail("0-9A-Za-z_-")), "a Google API key"),
    (("k_live_", "k_test_"), Rule(STRIPE, _tail("0-9a-zA-Z")), "a Stripe key"),
    (("xox",), Rule(SLACK, _tail("0-9A-Za-z-")), "a Slack token"),
    (("age-", "AGE-", "Age-"), Anchored(AGE_KEY, ("age-secret-key-1",), fold=True, tail=_tail("0-9A-Za-z")),
     "an age secret key"),
    (("ass", "ASS", "ecret", "ECRET"), Anchored(PASSWORD, ("pass", "secret"), fold=True, tail=_tail("^\\s\"'")),
     "a password or secret assignment"),
    (("client-key-data", "client-certificate-data"), Rule(KUBECONFIG_KEY, _tail("A-Za-z0-9+/=")),
     "a kubeconfig client key"),
    (("token",), Anchored(BEARER_TOKEN, ("token",), tail=_tail("A-Za-z0-9+/=._~-")), "a bearer token"),
    (("LicenseKey",), After("LicenseKey", ("certificate",), LICENSE, 2000, _tail("A-Za-z0-9+/=._-")),
     "a Tigera license"),
)
"""Each rule with literals that any match must contain: a substring test (far cheaper than a regex search,
which re tries at every position) rules most texts out; the rule still decides. The password rule's literals
are the spellings its keywords share ("ass" in password/passwd/passphrase)."""
