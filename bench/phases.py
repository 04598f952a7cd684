"""Run the `render` CLI with each pipeline phase timed (inclusive, nested); renderer/ is never edited.

    SKS_BENCH_PHASES=phases.json python bench/phases.py RENDER ARGS...

Each phase function is wrapped with a perf_counter timer (a few µs per call) through the module
attribute the pipeline calls it by; the totals are written as JSON at exit. bench/profile.py
prints them beside its cProfile tables, since cProfile inflates deep pure-Python call chains.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

PHASES = (
    ("renderer.cli.command", "execute"), ("renderer.load", "load"), ("renderer.load.overrides", "apply"),
    ("renderer.validate", "validate"), ("renderer.model", "build"), ("renderer.render", "render"),
    ("renderer.render.jinja|renderer.render|renderer.render.engines.argocd|renderer.render.engines.flux",
     "render_template"), ("renderer.yamlio", "dump"), ("renderer.check", "check"),
    ("renderer.yamlio", "load_all_plain"), ("renderer.check.kube", "problems"), ("renderer.check.kube", "validator"),
    ("renderer.check.crds", "custom_object_problems"), ("renderer.check.crds", "_validator"),
    ("renderer.leaks", "scan_text"), ("renderer.leaks", "scan_object"), ("renderer.simulate", "prove"),
    ("renderer.simulate.argocd", "play_version"), ("renderer.write", "write_many"), ("renderer.write", "compare"),
    ("os", "fsync"),
)


def _phases(imported_at: float) -> None:
    """Wrap each phase function with a perf_counter timer (a few µs per call)."""
    import importlib

    totals: dict[str, list[float]] = {}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        entry = totals.setdefault(name, [0.0, 0])
        depth = [0]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    entry[0] += time.perf_counter() - start
                entry[1] += 1

        return wrapper

    for module_names, attr in PHASES:  # "a|b": every module that calls the function by its own imported name
        first = module_names.split("|")[0]
        wrapper = timed(f"{first.removeprefix('renderer.')}.{attr}", getattr(importlib.import_module(first), attr))
        for module_name in module_names.split("|"):
            setattr(importlib.import_module(module_name), attr, wrapper)

    def dump() -> None:
        record = {"imports_s": imported_at - STARTED, "process_s": time.perf_counter() - STARTED,
                  "phases": {name: {"s": s, "calls": calls} for name, (s, calls) in totals.items()}}
        Path(os.environ["SKS_BENCH_PHASES"]).write_text(json.dumps(record, indent=2), "utf-8")

    atexit.register(dump)


def main() -> None:
    import renderer.cache.parallel
    import renderer.cli.command

    renderer.cache.parallel.MIN_CLUSTERS = sys.maxsize  # timed serially: forked workers' phases are not seen here
    _phases(time.perf_counter())
    renderer.cli.command.main(sys.argv[1:], prog_name="render")


if __name__ == "__main__":
    main()
