"""One reading of version strings, and the operator's tier per Calico Enterprise series from its row."""

from __future__ import annotations

import pytest

from renderer import versions
from renderer.model import series


@pytest.mark.parametrize(("text", "series", "minor"), [
    ("v3.19.2", (3, 19), "3.19"), ("3.23.0-1.0", (3, 23), "3.23"), ("1.31.1", (1, 31), "1.31"), ("v1.9", (1, 9), "1.9"),
])
def test_series_and_minor(text: str, series: tuple[int, int], minor: str) -> None:
    assert versions.series(text) == series
    assert versions.minor(text) == minor


def test_sort_key_is_numeric() -> None:
    assert sorted(["1.10", "1.9", "1.31", "1.2"], key=versions.sort_key) == ["1.2", "1.9", "1.10", "1.31"]


@pytest.mark.parametrize(("version", "tier"), [
    ("v3.19.2", "allow-tigera"), ("v3.20.7", "allow-tigera"), ("v3.21.9", "allow-tigera"), ("v3.22.7", "allow-tigera"),
    ("v3.23.1", "calico-system"), ("v3.23.0", "calico-system"),
])
def test_the_operator_tier_is_read_from_the_series_row(version: str, tier: str) -> None:
    assert series.row(version).tier == tier


@pytest.mark.parametrize("version", ["v3.18.0", "v3.24.0", "v4.19.2"])
def test_a_version_without_a_row_is_refused_naming_the_supported_releases(version: str) -> None:
    with pytest.raises(series.UnsupportedSeries, match=f"{version} is not supported; supported releases: "
                                                       "v3.19.x, v3.20.x, v3.21.x, v3.22.x, v3.23.x"):
        series.row(version)
