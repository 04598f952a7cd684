"""Where a render spends its time: cProfile of whole processes (imports included) and the phase timer.

    .venv/bin/python bench/profile.py [--fleet 100] [--top 25]

Profiles a cold render of values/prod.yaml and a fleet of synthetic clusters, each as its own
process (`python -m cProfile -m renderer ...`), prints the top functions by own and cumulative
time, then the pipeline phases timed without a profiler (bench/phases.py), since
cProfile inflates deep pure-Python call chains such as ruamel's parser several times over.
Profiles are kept in bench/results/*.prof for `python -m pstats` or snakeviz.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workloads import fleet_values  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def _stats_text(path: Path, sort: str, top: int) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    lines = stream.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    head = next(line.strip() for line in lines if "function calls" in line)
    return "\n".join([head, *lines[start:]]).rstrip()


def _phases(args: list[str], out: Path, clusters: int) -> str:
    env = dict(os.environ, SKS_BENCH_PHASES=str(out))
    subprocess.run([sys.executable, str(ROOT / "bench" / "phases.py"), *args], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    record = json.loads(out.read_text("utf-8"))
    lines = [f"process {record['process_s'] * 1000:,.1f} ms after interpreter start-up; "
             f"imports before main() {record['imports_s'] * 1000:,.1f} ms",
             f"{'phase (inclusive; indented = inside the one above)':<52} {'ms':>9} {'ms/cluster':>11} {'calls':>7}"]
    nested = {"render.jinja.render_template", "yamlio.dump", "yamlio.load_all_plain", "check.kube.problems",
              "check.crds.custom_object_problems", "leaks.scan_text", "leaks.scan_object", "os.fsync", "write.compare",
              "simulate.argocd.play_version"}
    deeper = {"check.kube.validator", "check.crds._validator"}
    for name, value in record["phases"].items():
        indent = "    " if name in deeper else "  " if name in nested else ""
        lines.append(f"{indent + name:<52} {value['s'] * 1000:>9.1f} {value['s'] * 1000 / clusters:>11.2f} "
                     f"{value['calls']:>7}")
    return "\n".join(lines)


def _clean(scratch: Path) -> None:
    for out in ("cold", "fleet"):
        shutil.rmtree(scratch / out, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    os.environ["SKS_GITOPS_NO_CACHE"] = "1"  # profile the full run, as cold as the bench's cold row
    with tempfile.TemporaryDirectory(prefix="sks-bench-prof-") as tmp:
        scratch = Path(tmp)
        fleet = [str(p) for p in fleet_values(scratch / "values", args.fleet)]
        workloads = {"cold": (["values/prod.yaml", "--out", str(scratch / "cold")], 1),
                     f"fleet{args.fleet}": (["--out", str(scratch / "fleet"), *fleet], args.fleet)}
        for name, (render_args, clusters) in workloads.items():
            profile = RESULTS / f"{name}.prof"
            subprocess.run([sys.executable, "-P", "-m", "cProfile", "-o", str(profile), "-m", "renderer", *render_args],
                           cwd=ROOT, check=True, capture_output=True)
            _clean(scratch)
            print(f"==== {name}: cProfile, top {args.top} by own time (tottime)")
            print(_stats_text(profile, "tottime", args.top))
            print(f"\n==== {name}: cProfile, top {args.top} by cumulative time")
            print(_stats_text(profile, "cumulative", args.top))
            print(f"\n==== {name}: phases without a profiler")
            print(_phases(render_args, scratch / f"{name}-phases.json", clusters))
            _clean(scratch)
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
