"""The leak rules cost time linear in their input (issue 21: a 126 KB value took 24 s, a 990 KB values file 8
minutes), shown by structure and by counted work, never by timing.

Structure: every rule's pattern has a finite maximum width (re's own parser says so), so one attempt at one
position looks at a bounded number of characters; the token run pattern is possessive and starts only where a
run starts. Counted work: `leaks.WORK` sums the characters each rule is handed (positions it scans from, tails,
decoded base64); on hostile input built to make a rule rescan, it stays within a constant times the length.
"""

from __future__ import annotations

import re
import re._parser as sre_parse
from pathlib import Path

import pytest

from renderer import leaks, load
from renderer.leaks import rules
from renderer.leaks import tokens as leak_tokens
from renderer.validate import refusals
from tests.conftest import PROD_VALUES

MAX_WIDTH = 4096
WORK_PER_CHARACTER = 32
"""The bound: each rule scans from each position at most once (about 16 rules with a literal, most of them
skipped by the substring prefilter) plus the token pass; measured between 2 and 21 on the inputs below."""

HOSTILE = {
    "docker-auths": '"auths":{"a":{',  # the case: 24 s for 126 KB before
    "docker-credential": '"auth":"',
    "docker-escaped": '\\"password\\": \\"',
    "pem-header": "-----BEGIN PGP ",
    "jwt-prefix": "eyJ",
    "jwt-segments": "eyJabcdefgh.",
    "aws-prefix": "AKIA",
    "exoscale-almost": "EXO" + "a" * 23 + " ",
    "url-userinfo": "://a:",
    "password-keyword": "password ",
    "password-matches": "password: ",
    "gitlab-tails": "glpat-" + "a" * 20,
    "license-window": "LicenseKey certificate: ",
    "bearer-token": "token: " + "a" * 15 + " ",
    "age-prefix": "AGE-SECRET-KEY-1",
    "one-token-run": "aB3+",
    "base64-of-text": "YWFh",
    "short-lines": "aB3xY7\n",
    "zero-width": "EXO\u200b",
}


def _patterns() -> list[re.Pattern[str]]:
    return [rule.pattern for _literals, rule, _label in leaks._PATTERNS]


@pytest.mark.parametrize("pattern", _patterns(), ids=lambda pattern: pattern.pattern[:24])
def test_every_rule_has_a_bounded_match_width(pattern: re.Pattern[str]) -> None:
    """A `*` or `+` without a bound (the old docker rule's `[^}]*`) makes one failed attempt cost the rest of the
    text, and re makes one attempt per position: quadratic."""
    low, high = sre_parse.parse(pattern.pattern, pattern.flags).getwidth()
    assert 0 < low <= high <= MAX_WIDTH, (pattern.pattern, high)


def test_tails_and_the_token_run_never_backtrack() -> None:
    """The unbounded parts: possessive runs (a token run of 12 or more is consumed whole, once)."""
    tails = [rule.tail for _literals, rule, _label in leaks._PATTERNS if getattr(rule, "tail", None)]
    assert len(tails) >= 8
    for tail in tails:
        assert tail is not None
        assert tail is rules.JWT_TAIL or re.fullmatch(r"\[[^\]]+\]\*\+", tail.pattern), tail.pattern
    assert leak_tokens.RUN.pattern == "[A-Za-z0-9+/_-]{12,}+={0,2}"


def _work(text: str) -> int:
    """Work of the three entry points, each with an empty line memo (a line too long for it is never kept)."""
    rules.WORK[0] = 0
    for scan in (leaks.labels, lambda text: leaks.scan_text("f", text), leaks.spans):
        leaks._LINES.clear()
        scan(text)
    return rules.WORK[0]


@pytest.mark.parametrize("unit", HOSTILE.values(), ids=HOSTILE.keys())
def test_work_is_linear_on_hostile_input(unit: str) -> None:
    """Each length four times the last: the work per character stays under one constant."""
    per_character = []
    for size in (8_000, 32_000, 128_000):
        text = (unit * (size // len(unit) + 1))[:size]
        per_character.append(_work(text) / size)
    assert max(per_character) <= WORK_PER_CHARACTER, per_character
    assert per_character[-1] <= per_character[0] * 1.1 + 0.1, per_character  # no growth with the length


def test_nested_auths_json_of_126_kb_is_scanned_in_linear_work() -> None:
    text = '"auths":{"a":{' * 9000  # 126 KB, 24 s before
    assert len(text) == 126_000
    assert _work(text) <= WORK_PER_CHARACTER * len(text)


def test_a_values_file_at_the_size_limit_is_scanned_in_linear_work(tmp_path: Path) -> None:
    """The file scan (comments too) of a values file just under load.MAX_FILE_BYTES, full of findings: the work
    stays linear and the report lists at most MAX_SOURCE_FINDINGS lines (it listed every match before)."""
    base = PROD_VALUES.read_text("utf-8")
    line = "# " + "password: " * 20 + "\n"
    text = base + line * ((load.MAX_FILE_BYTES - 1000 - len(base)) // len(line))
    assert load.MAX_FILE_BYTES - 1000 - len(line) <= len(text.encode()) <= load.MAX_FILE_BYTES
    values_path = tmp_path / "big.yaml"
    values_path.write_text(text, "utf-8")
    values = load.load([values_path])
    rules.WORK[0] = 0
    problems = refusals.source_problems(values)
    assert rules.WORK[0] <= WORK_PER_CHARACTER * len(text)
    assert len(problems) == refusals.MAX_SOURCE_FINDINGS + 1
    first = base.count("\n") + 1
    assert [problem.line for problem in problems[:3]] == [first, first + 1, first + 2]
    assert "only the first 20 lines are listed" in problems[-1].message
