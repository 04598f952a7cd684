"""The leak scan's own cost per rendered file and per cluster, with any version of renderer/leaks/__init__.py.

    .venv/bin/python bench/leakscan.py                       # the current rules
    git show REV:renderer/leaks/__init__.py > /tmp/leaks_old.py
    .venv/bin/python bench/leakscan.py --leaks /tmp/leaks_old.py   # an older version, same trees

Renders N synthetic fleet clusters (bench/workloads.py) in memory once, then times scan_text over
every file and scan_object over every parsed object, as renderer/check calls them, with the line memo
emptied before each pass (a cold process; a fleet shares lines and pays less). The median and
best of `--runs` passes (a shared machine is noisy); also the number of findings (0 expected: they are
all real trees).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workloads import fleet_values  # noqa: E402
from renderer import check, pipeline  # noqa: E402


def _module(path: str) -> ModuleType:
    if not path:
        from renderer import leaks
        return leaks
    spec = importlib.util.spec_from_file_location("leaks_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trees(count: int) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as scratch:
        paths = fleet_values(Path(scratch), count)
        request = pipeline.Request(values_files=tuple(paths))
        return [dict(pipeline.prepare([path], request, []).tree) for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaks", default="", help="leak rules to measure instead of renderer/leaks/__init__.py")
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    leaks = _module(args.leaks)
    trees = _trees(args.clusters)
    files = [(path, text) for tree in trees for path, text in tree.items()]
    objects = [obj for path, text in files if path.endswith((".yaml", ".yml"))
               for obj in check.parse_objects(path, text)]
    print(f"{args.leaks or 'renderer/leaks/__init__.py'}: {len(trees)} clusters, {len(files)} files "
          f"({sum(len(text) for _p, text in files) // len(files)} chars on average), {len(objects)} objects")
    passes = {"scan_text": lambda: [leaks.scan_text("", text) for _path, text in files],
              "scan_object": lambda: [leaks.scan_object(obj) for obj in objects]}
    for name, run in passes.items():
        timings, findings = [], 0
        for _ in range(args.runs):
            memo: Any = getattr(leaks, "_LINES", None)
            if memo is not None:
                memo.clear()
            start = time.perf_counter()
            findings = sum(len(item) for item in run())
            timings.append(time.perf_counter() - start)
        median, best = statistics.median(timings), min(timings)
        print(f"  {name:<12} median {median / len(files) * 1e6:6.1f} us per file, {median / len(trees) * 1000:.3f} ms "
              f"per cluster (best {best / len(trees) * 1000:.3f}); findings {findings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
