"""Hypothesis budgets that follow the loaded profile (registered in tests/conftest.py).

Each property test states the number of examples it runs under the thorough profile (CI's nightly
workflow, `HYPOTHESIS_PROFILE=thorough`); the quick default profile, which `make test` uses, runs
the same fraction of every budget, so one number per test keeps their relative weights.
"""

from __future__ import annotations

from hypothesis import settings

THOROUGH_EXAMPLES = 100
"""The thorough profile's max_examples: a test's stated budget is meant for this profile."""
QUICK_EXAMPLES = 10
FLOOR = 5
"""Even the quick profile runs a few examples of each property, never zero."""


def examples(thorough: int) -> int:
    """`thorough` examples scaled to the loaded profile (`thorough` itself under the thorough profile)."""
    scaled = thorough * settings().max_examples // THOROUGH_EXAMPLES
    return min(thorough, max(FLOOR, scaled))
