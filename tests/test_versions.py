"""One reading of version strings, and the operator's tier per Calico Enterprise series from its row."""

from __future__ import annotations

import re

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


_NEWEST = max(row.key for row in series.SERIES.values())


@pytest.mark.parametrize("version", ["v3.18.0", f"v{_NEWEST[0]}.{_NEWEST[1] + 1}.0", "v4.19.2"])
def test_a_version_without_a_row_is_refused_naming_the_supported_releases(version: str) -> None:
    supported = ", ".join(f"v{name}.x" for name in series.SERIES)
    with pytest.raises(series.UnsupportedSeries, match=re.escape(f"{version} is not supported; supported releases: "
                                                                 f"{supported}")):
        series.row(version)
