"""One reading of version strings, and the operator's tier per Calico Enterprise series from one table."""

from __future__ import annotations

import pytest

from renderer import versions
from renderer.model import facts


@pytest.mark.parametrize(("text", "series", "minor"), [
    ("v3.19.2", (3, 19), "3.19"), ("3.23.0-1.0", (3, 23), "3.23"), ("1.31.1", (1, 31), "1.31"), ("v1.9", (1, 9), "1.9"),
])
def test_series_and_minor(text: str, series: tuple[int, int], minor: str) -> None:
    assert versions.series(text) == series
    assert versions.minor(text) == minor


def test_sort_key_is_numeric() -> None:
    assert sorted(["1.10", "1.9", "1.31", "1.2"], key=versions.sort_key) == ["1.2", "1.9", "1.10", "1.31"]


@pytest.mark.parametrize(("series", "tier"), [
    ((3, 19), "allow-tigera"), ((3, 23), "calico-system"), ((3, 20), "allow-tigera"), ((3, 24), "calico-system"),
    ((3, 18), "allow-tigera"),
])
def test_operator_tier_follows_the_newest_known_series(series: tuple[int, int], tier: str) -> None:
    assert facts.operator_tier(series) == tier
    assert {facts.operator_tier(known) for known in facts.OPERATOR_TIER} == set(facts.OPERATOR_TIER.values())
