"""`--output json`: the whole answer of a render, `--check`, `--diff` or `--plan` as one JSON document.

For a CI bot or a dashboard: the clusters with their status and changed files, every problem located
(file, line, column, message, hint), the fix command, the rollout plan's steps. Its contract is
schemas/output.schema.json (tests/test_fleet_output.py validates real documents against it). Pure
functions but for `Command`, which makes a refused command line a document too; the command (command.py)
prints the document. Every string passes the secret scan's redaction, as the text output does.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from renderer import exitcodes
from renderer.errors import Problem
from renderer.pipeline import ClusterResult
from renderer.write import MANIFEST

SCHEMA_ID = "urn:sks-gitops:output:v1"


def _scrubbed(value: Any) -> Any:
    from renderer.leaks.redact import scrub

    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    return value


def problem(found: Problem) -> dict[str, Any]:
    safe = found.shown()
    return {"level": safe.level, "file": safe.file, "line": safe.line, "column": safe.column,
            "key": safe.key_path, "message": safe.message, "hint": safe.hint}


def plan_steps(plan: str) -> list[dict[str, Any]]:
    """The text plan (renderer/model/plan.py) as steps: each indented line under a section heading is a step
    of that delivery (a bootstrap step, an Argo CD wave, a Flux Kustomization, a simulated outcome); the deeper
    lines under it are what it waits for."""
    steps: list[dict[str, Any]] = []
    delivery = ""
    for line in plan.splitlines():
        if not line.strip() or line.startswith("Rollout plan for "):
            continue
        if not line.startswith(" "):
            delivery = line.rstrip(":")
        elif line.startswith("      ") and steps:
            steps[-1]["waits"].append(line.strip())
        else:
            steps.append({"delivery": delivery, "step": line.strip(), "waits": []})
    return steps


def _files(result: ClusterResult) -> dict[str, list[str]]:
    changes = result.changes
    listed = {"added": list(changes.added), "changed": list(changes.changed), "removed": list(changes.removed)}
    if any(path != MANIFEST for paths in listed.values() for path in paths):
        listed = {label: [path for path in paths if path != MANIFEST] for label, paths in listed.items()}
    return listed


def cluster(result: ClusterResult, mode: str, out_dir: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": result.cluster, "values": list(result.sources), "tree": (out_dir / result.cluster).as_posix(),
        "status": "planned" if mode == "plan" else "changed" if result.changes.differs else "unchanged",
        "files": _files(result), "file_count": result.file_count, "objects": sum(result.kinds.values())}
    if mode == "plan" and result.plan:
        entry["plan"] = plan_steps(result.plan)
    return entry


def document(mode: str | None, exit_code: int, out_dir: Path | None = None,
             results: Sequence[ClusterResult] = (), problems: Sequence[Problem] = (),
             fix_command: str | None = None) -> str:
    """The JSON text (one line and a newline). `mode` is None when the command line itself was refused."""
    clusters = [cluster(result, mode or "write", out_dir or Path("out")) for result in results]
    changed = sum(entry["status"] == "changed" for entry in clusters)
    body = {"schema": SCHEMA_ID, "mode": mode, "exit_code": exit_code,
            "out": out_dir.as_posix() if out_dir is not None else None,
            "summary": {"clusters": len(clusters), "changed": changed, "unchanged": len(clusters) - changed},
            "clusters": clusters, "problems": [problem(found) for found in problems], "fix_command": fix_command}
    return json.dumps(_scrubbed(body), ensure_ascii=False, sort_keys=False) + "\n"


def wants_json(args: list[str]) -> bool:
    """`--output json` (or `--output=json`) among the options, before a `--`."""
    words = args[: args.index("--")] if "--" in args else args
    return "--output=json" in words or any(pair == ("--output", "json") for pair in itertools.pairwise(words))


class Command(click.Command):
    """With `--output json`, a refused command line is a JSON document on stdout too (exit 2)."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        if not wants_json(words) or not standalone_mode:
            return super().main(words, prog_name, complete_var, standalone_mode, **extra)
        try:
            return super().main(words, prog_name, complete_var, False, **extra)
        except click.Abort:  # Ctrl-C: what click's standalone mode prints, and its exit status 1
            click.echo("Aborted!", err=True)
            sys.exit(exitcodes.DIFFERS)
        except click.ClickException as exc:
            exc.show()
            message = exc.format_message()
            click.echo(document(None, exc.exit_code, problems=[Problem("", 0, 0, "", message)]), nl=False)
            sys.exit(exc.exit_code)
