"""Import cost of the CLI from `python -X importtime -c "import renderer.cli.command"`, medians over runs."""

from __future__ import annotations

import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

_TARGET = "renderer.cli.command"


@dataclass(frozen=True)
class ImportEntry:
    module: str
    depth: int
    """Nesting in the import tree: 0 is renderer.cli.command, 1 what it imports directly, and so on."""
    self_us: float
    cumulative_us: float


def _parse(stderr: str) -> list[ImportEntry]:
    """The entries of renderer.cli.command's import tree only (not what `site` loaded before it).

    importtime prints children before their parent, indented two spaces per level.
    """
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        if not self_us.strip().isdigit():
            continue  # the header line
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        entries.append(ImportEntry(name.strip(), depth, float(self_us), float(cumulative_us)))
    end = next((i for i, e in enumerate(entries) if e.module == _TARGET), None)
    if end is None:
        return []
    start = end
    while start > 0 and entries[start - 1].depth > entries[end].depth:
        start -= 1
    root = entries[end].depth
    return [ImportEntry(e.module, e.depth - root, e.self_us, e.cumulative_us) for e in entries[start:end + 1]]


def measure(python: Path, cwd: Path, runs: int) -> list[ImportEntry]:
    """Median self and cumulative time per module over `runs` runs (after one warm-up)."""
    argv = [str(python), "-P", "-X", "importtime", "-c", f"import {_TARGET}"]  # -P: as installed, not from cwd
    collected: dict[str, list[ImportEntry]] = {}
    for index in range(runs + 1):
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
        if index == 0:
            continue
        for entry in _parse(done.stderr):
            collected.setdefault(entry.module, []).append(entry)
    return [ImportEntry(module, found[0].depth, statistics.median(e.self_us for e in found),
                        statistics.median(e.cumulative_us for e in found))
            for module, found in collected.items()]


def top(entries: list[ImportEntry], count: int = 5) -> list[ImportEntry]:
    return sorted(entries, key=lambda e: -e.cumulative_us)[:count]


def top_packages(entries: list[ImportEntry], count: int = 5) -> list[ImportEntry]:
    """Largest third-party and stdlib packages, counted once at the outermost place they were loaded."""
    outermost: dict[str, ImportEntry] = {}
    for entry in entries:
        package = entry.module.split(".")[0]
        if package == "renderer":
            continue
        best = outermost.get(package)
        if best is None or entry.cumulative_us > best.cumulative_us:
            outermost[package] = ImportEntry(package, entry.depth, entry.self_us, entry.cumulative_us)
    return sorted(outermost.values(), key=lambda e: -e.cumulative_us)[:count]
