"""The one way tests run `render` in-process: the real click command, GITHUB_ACTIONS unset (so stderr
holds only the plain lines), exceptions not swallowed, and stderr shown when an expected exit differs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from renderer.cli.command import main


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, env: Mapping[str, str | None] | None = None, expect: int | None = None,
            plain: bool = True) -> Run:
    """`render ARGS`; with `expect`, assert that exit code (the failure shows what was printed). `plain=False`
    keeps a GITHUB_ACTIONS the test set in the environment (annotations are then printed too)."""
    environment: dict[str, str | None] = {**({"GITHUB_ACTIONS": None} if plain else {}), **(env or {})}
    result = CliRunner().invoke(main, [str(arg) for arg in args], env=environment, catch_exceptions=False)
    run = Run(result.exit_code, result.stdout, result.stderr)
    if expect is not None:
        assert run.exit_code == expect, shows(run)
    return run


def shows(run: Run) -> str:
    """Failure context: everything the command printed."""
    return f"exit {run.exit_code}\n--- stderr\n{run.stderr}--- stdout\n{run.stdout}"
