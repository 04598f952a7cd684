"""Shared fixtures: the loopback servers, and one way to run the CLI that shows stderr on failure."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.budget import QUICK_EXAMPLES, THOROUGH_EXAMPLES
from tests.support.cli import Run, run_cli

pytest_plugins = ["tests.support.servers"]

# Property budgets (tests/support/budget.py): `quick` by default (`make test`), `thorough` with
# HYPOTHESIS_PROFILE=thorough (`make test-thorough`, the nightly workflow), which also runs the tests
# marked `thorough`. No deadline: a loaded machine is not a failure.
settings.register_profile("quick", max_examples=QUICK_EXAMPLES, deadline=None)
settings.register_profile("thorough", max_examples=THOROUGH_EXAMPLES, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
THOROUGH = settings().max_examples >= THOROUGH_EXAMPLES


def pytest_configure() -> None:
    """Every test (and every `render` it starts) runs in full; tests/test_fastpath.py switches the cache on."""
    os.environ["SKS_GITOPS_NO_CACHE"] = "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `thorough` (depth a quick sibling test already samples) run under the thorough profile only.
    Then the tests marked `slow` run first (slow_first)."""
    if not THOROUGH:
        deselected = [item for item in items if item.get_closest_marker("thorough")]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if not item.get_closest_marker("thorough")]
    items[:] = slow_first(items)


def slow_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The tests marked `slow` (processes, real tools: the longest ones) first, then the rest, each group in
    collection order and so module by module. Among the slow ones, those of modules that mark only some tests
    slow (a wheel, a pre-commit environment, the README's commands: the longest single tests) come before those
    of modules that are slow throughout (many shorter bootstrap runs).

    `make test` runs `--dist worksteal`: each worker starts on one half of this list and an idle worker takes
    the second half of another's queue. With the long tests first, the end of a run is many short tests that
    share out evenly, not one long test that started last on one worker while the other waits."""
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    marked = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    throughout = {module(item) for item in marked} - {module(item) for item in rest}
    return [*(item for item in marked if module(item) not in throughout),
            *(item for item in marked if module(item) in throughout), *rest]


REPO_ROOT = Path(__file__).resolve().parents[1]
PROD_VALUES = REPO_ROOT / "values" / "prod.yaml"


RenderCli = Callable[..., Run]


@pytest.fixture
def render_cli() -> RenderCli:
    """Run `render ARGS` in-process (tests/support/cli.py) in the environment as the test left it; assert
    exit 0 unless `expect` says otherwise."""

    def run(*args: str | Path, expect: int | None = 0) -> Run:
        return run_cli(*args, expect=expect, plain=False)

    return run


def read_tree(root: Path) -> dict[str, str]:
    """Every file under root as {relative posix path: text}."""
    return {path.relative_to(root).as_posix(): path.read_text("utf-8")
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The values files that went through renderer.pipeline.prepare (load -> validate -> render -> check), run
    by run, by file stem: what the per-cluster cache did not answer (tests/test_reuse.py, test_hub_cache.py)."""
    from renderer import pipeline

    calls: list[str] = []
    real = pipeline.prepare

    def counting(paths: list[Path], request: pipeline.Request, warnings: list) -> pipeline.Prepared:  # type: ignore[type-arg]
        calls.append(paths[-1].stem)
        return real(paths, request, warnings)

    monkeypatch.setattr(pipeline, "prepare", counting)
    return calls
