"""What a fleet run says when it ends: per changed cluster, a summary, the command that fixes a stale tree.

Pure functions over the pipeline's plain results; the command (command.py) prints what they return.
(Each problem once, with a shared layer's problem not repeated per cluster: renderer/pipeline.py.)
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from renderer.model.hub import HUBS_DIR
from renderer.model.meanings import Mode
from renderer.pipeline import ClusterResult, is_base_layer
from renderer.write import MANIFEST, Changes


@dataclass(frozen=True)
class Invocation:
    """The parts of the command line that the fix command repeats."""

    values: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    out: str = "out"
    strict: bool = False

    def write_command(self) -> str:
        words = ["render"]
        if self.out != "out":
            words += ["--out", self.out]
        if self.strict:
            words.append("--strict")
        for override in self.overrides:
            words += ["--set", override]
        return shlex.join([*words, *self.values])

    def only(self, stale: Sequence[ClusterResult]) -> Invocation:
        """The same command for the stale clusters alone: every layer (base.yaml, `_*.yaml`) and the cluster
        files of `stale`, in the order given. Writing never touches the other clusters' trees, so the
        shorter command fixes the same staleness; a run without cluster files keeps every file."""
        wanted = {source for result in stale for source in result.sources if not is_base_layer(Path(source))}
        if not wanted:
            return self
        kept = tuple(value for value in self.values if is_base_layer(Path(value)) or value in wanted)
        return Invocation(kept, self.overrides, self.out, self.strict)


@dataclass(frozen=True)
class Lines:
    stdout: list[str]
    """The answer of --check: one `added:`/`changed:`/`removed:` line per differing file."""
    stderr: list[str]
    """Status: per-cluster lines, the summary, the fix command."""


_UNCHANGED = Changes()


def status_line(result: ClusterResult, mode: Mode, out_dir: Path, state: str = "unchanged") -> str:
    where = out_dir / result.cluster
    if mode == "check":
        return f"{where}: up to date"
    return f"{where}: {result.file_count} files, {sum(result.kinds.values())} objects validated; {state}"


def _listed(changes: Changes) -> list[tuple[str, str]]:
    listed = [(label, path) for label, paths in
              (("added", changes.added), ("changed", changes.changed), ("removed", changes.removed))
              for path in paths]
    if any(path != MANIFEST for _label, path in listed):
        listed = [(label, path) for label, path in listed if path != MANIFEST]  # noise beside real changes
    return listed


def closing_lines(results: Sequence[ClusterResult], mode: Mode, out_dir: Path, invocation: Invocation,
                  quiet: bool = False, as_unchanged: bool = False) -> Lines:
    """A single cluster gets its status line; a fleet gets lines for the clusters that changed and a summary.
    `--quiet` keeps only what is an answer or a problem: the differing files and the fix command.
    `as_unchanged`: the lines an identical run will print once these trees are on disk (the no-op record)."""
    stdout: list[str] = []
    stderr: list[str] = []
    fleet = len(results) > 1
    changed = 0
    stale: list[ClusterResult] = []
    for result in results:
        changes = _UNCHANGED if as_unchanged else result.changes
        changed += bool(changes.differs)
        if changes.differs:
            stale.append(result)
        if mode == "write":
            added, edited, removed = ([path for path in paths if path != MANIFEST]
                                      for paths in (changes.added, changes.changed, changes.removed))
            state = "unchanged" if not changes.differs else (
                f"{len(added)} added, {len(edited)} changed, {len(removed)} removed")
            if not quiet and (changes.differs or not fleet):
                stderr.append(status_line(result, mode, out_dir, state))
        elif mode == "check":
            if not changes.differs and not fleet and not quiet:
                stderr.append(status_line(result, mode, out_dir))
            stdout.extend(f"{label}: {out_dir / result.cluster / path}" for label, path in _listed(changes))
    if fleet and not quiet and mode in ("write", "check"):
        same = len(results) - changed
        hubs = sum(result.cluster.startswith(f"{HUBS_DIR}/") for result in results)  # hub mode's hub trees
        clusters = len(results) - hubs
        counted = f"{len(results)} clusters" if not hubs else (f"{len(results)} trees ({clusters} cluster"
                                                               f"{'s' if clusters != 1 else ''}, {hubs} hub tree"
                                                               f"{'s' if hubs != 1 else ''})")
        stderr.append(f"{counted}: {changed} changed, {same} unchanged" if mode == "write" else
                      f"{counted}: {changed} differ, {same} up to date")
    fix = fix_command(stale, invocation)
    if mode == "check" and fix:
        stderr.append(f"{out_dir.as_posix().rstrip('/')}/ is stale; to update it, run: {fix}")
    return Lines(stdout, stderr)


def fix_command(results: Sequence[ClusterResult], invocation: Invocation) -> str | None:
    """The render that brings the stale trees among `results` up to date (None when none is stale)."""
    stale = [result for result in results if result.changes.differs]
    return invocation.only(stale).write_command() if stale else None
