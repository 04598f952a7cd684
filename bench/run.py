"""`make bench`: speed and memory of the `render` CLI as whole processes, against fixed targets.

Measures the interpreter floor, a cold render, a no-op re-render, `render --check`, a Go anchor
(`kubectl kustomize` over every stage directory of the same cluster) and fleets of synthetic
clusters rendered in one process; prints a table, ratios and target verdicts and writes them as
JSON. Every figure is the median of several runs after a warm-up (see the `runs` column).

    .venv/bin/python bench/run.py            # the full run (a few minutes)
    .venv/bin/python bench/run.py --quick    # smoke test: fewer runs, fleets up to 30
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script (`python bench/run.py`), import as the `bench` package

from bench import imports, report  # noqa: E402
from bench.measure import ProcessFailed, Result, Sample, combine, repeat, run_once  # noqa: E402
from bench.workloads import Tools, fleet_values, kustomize_argv, remote_server, stage_dirs, tool_version  # noqa: E402

PROD = "values/prod.yaml"
CLUSTER = "ceosks-poc"
BUDGET_S = 570.0
"""`make bench` must finish within 10 minutes: the largest fleet gives up runs rather than overrun."""


@dataclass(frozen=True)
class Plan:
    runs: int
    warmups: int
    fleet_sizes: tuple[int, ...]
    big_fleet_runs: int
    """The largest fleet takes about a minute per run: fewer runs, and no warm-up (caches are warm by then)."""
    import_runs: int
    big_values_runs: int = 3


FULL = Plan(runs=5, warmups=1, fleet_sizes=(1, 10, 100, 1000), big_fleet_runs=3, import_runs=5)
QUICK = Plan(runs=3, warmups=1, fleet_sizes=(1, 10, 30), big_fleet_runs=2, import_runs=3, big_values_runs=1)
MAX_VALUES_BYTES = 1_000_000
"""renderer/load: MAX_FILE_BYTES, the largest values file the renderer reads."""


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, plan: Plan, tools: Tools, scratch: Path) -> None:
        self.plan, self.tools, self.scratch = plan, tools, scratch
        self.results: list[Result] = []
        self.started = time.perf_counter()
        self._serial = 0

    def _fresh(self, name: str) -> Path:
        self._serial += 1
        return self.scratch / f"{name}-{self._serial}" / "out"

    def _add(self, result: Result) -> None:
        _progress(f"{result.label}: median {result.median_s * 1000:,.1f} ms")
        self.results.append(result)

    def _render(self, *args: str, cwd: Path = ROOT, expect: tuple[int, ...] = (0,),
                cache: Path | None = None) -> Sample:
        env = None if cache is None else {**os.environ, "SKS_GITOPS_CACHE_DIR": str(cache)}
        return run_once([str(self.tools.render), *args], cwd, expect, env)

    def floor(self, key: str = "floor", label: str = "interpreter floor (python -c pass)") -> None:
        argv = [str(self.tools.python), "-c", "pass"]
        self._add(repeat(key, label, lambda: run_once(argv, ROOT), self.plan.runs, self.plan.warmups))

    def cold(self) -> None:
        def once(warm: bool) -> Sample:
            out = self._fresh("cold")
            sample = self._render(PROD, "--out", str(out), cache=None if warm else out.parent / "cache")
            _discard(out.parent)
            return sample

        self._add(repeat("cold", "cold render values/prod.yaml (empty out dir, empty cache)", lambda: once(False),
                         self.plan.runs, self.plan.warmups,
                         notes=["validation on; fresh temporary --out and an empty per-user cache per run"]))
        self._add(repeat("cold-warm", "  the same, per-user cache warm", lambda: once(True), self.plan.runs,
                         self.plan.warmups, notes=["a new --out (so no no-op record applies) after earlier renders "
                                                   "on this machine: compiled templates come from the cache"]))

    def steady(self) -> None:
        out = self._fresh("steady")
        self._render(PROD, "--out", str(out))
        time.sleep(2.1)  # a checkout edited within 2 s is never recorded (the racy-mtime rule)
        self._render(PROD, "--out", str(out))
        self._add(repeat("noop", "no-op re-render (nothing changed)",
                         lambda: self._render(PROD, "--out", str(out)), self.plan.runs, self.plan.warmups))
        self._add(repeat("check", "render --check (up to date)",
                         lambda: self._render("--check", PROD, "--out", str(out)), self.plan.runs, self.plan.warmups))
        self._add(repeat("noop-full", "  no-op re-render --no-cache (full run)",
                         lambda: self._render(PROD, "--out", str(out), "--no-cache"), self.plan.runs,
                         self.plan.warmups))
        self._add(repeat("check-full", "  render --check --no-cache (full run)",
                         lambda: self._render("--check", "--no-cache", PROD, "--out", str(out)), self.plan.runs,
                         self.plan.warmups))

    def anchor(self) -> list[str]:
        """kubectl kustomize over each stage directory, one process per directory, summed per run."""
        kubectl, helm = self.tools.kubectl, self.tools.helm
        if kubectl is None:
            return ["kustomize anchor skipped: no kubectl with kustomize on PATH or in .tools/bin"]
        notes = [f"{kubectl}: {tool_version([kubectl, 'version', '--client'])}"]
        with remote_server() as remote:
            out = self._fresh("anchor")
            charts = ["--set", f"longhorn.chartRepository={remote.charts_url}"] if remote.charts_url else []
            engine = ["--set", f"gitops.argocdManifestsBaseURL={remote.origin}/argo-cd"]
            self._render(PROD, "--out", str(out), "--set", f"tigera.manifestsBaseURL={remote.manifests_url}", *charts,
                         *engine)
            stages = stage_dirs(out / CLUSTER)
            if helm is None or not charts:
                stages = [s for s in stages if not s.name.endswith("-longhorn")]
                notes.append("01-longhorn skipped: " + ("no helm v3 found" if helm is None else
                                                        "tests/support/charts.py is missing"))
            else:
                notes.append(f"01-longhorn built with --enable-helm ({helm}) from a loopback chart repository")
            notes.append("03/04 and 10-argocd fetch the fixture manifests from a loopback http.server")

            def once() -> dict[str, Sample]:
                samples = {}
                for stage in stages:
                    samples[stage.name] = run_once(kustomize_argv(kubectl, helm, stage), ROOT)
                    shutil.rmtree(stage / "charts", ignore_errors=True)  # kustomize leaves the pulled chart
                return samples

            for _ in range(self.plan.warmups):
                once()
            runs = [once() for _ in range(self.plan.runs)]
        names = [s.name for s in stages]
        plain = [n for n in names if not n.endswith("-longhorn")]
        dirs = ", ".join(names)
        self._add(Result("kustomize", f"kubectl kustomize x{len(names)} stage dirs (sum)",
                         tuple(combine([run[n] for n in names]) for run in runs), self.plan.warmups,
                         len(names), (f"stage dirs: {dirs}", *notes)))
        if len(plain) != len(names):
            self._add(Result("kustomize-no-helm", f"kubectl kustomize x{len(plain)} (without 01-longhorn)",
                             tuple(combine([run[n] for n in plain]) for run in runs), self.plan.warmups,
                             len(plain), ("the same runs, without the helm stage",)))
        for name in names:
            self._add(Result(f"kustomize:{name}", f"  kubectl kustomize {name}",
                             tuple(run[name] for run in runs), self.plan.warmups))
        return notes

    def fleets(self) -> None:
        sizes = self.plan.fleet_sizes
        values = fleet_values(self.scratch / "fleet-values", sizes[-1])
        for size in sizes:
            args = [str(p.relative_to(self.scratch)) for p in values[:size]]

            def once(args: list[str] = args, size: int = size) -> Sample:
                out = self._fresh(f"fleet{size}")
                sample = self._render("--out", str(out.relative_to(self.scratch)), *args, cwd=self.scratch)
                _discard(out.parent)
                return sample

            label = f"fleet of {size} clusters, one process"
            if size != sizes[-1]:
                self._add(repeat(f"fleet-{size}", label, once, self.plan.runs, self.plan.warmups))
                continue
            samples = [once()]
            while len(samples) < self.plan.big_fleet_runs and self._fits(samples[-1].seconds * 1.2):
                samples.append(once())
            notes = [f"{len(samples)} run(s), no warm-up (caches are warm from the smaller fleets)"]
            if len(samples) < self.plan.big_fleet_runs:
                notes.append(f"stopped after {len(samples)} of {self.plan.big_fleet_runs} runs to stay within "
                             f"the {BUDGET_S / 60:.1f}-minute budget")
            self._add(Result(f"fleet-{size}", label, tuple(samples), 0, notes=tuple(notes)))

    def fleet_noop(self) -> None:
        """The largest fleet once more, then unchanged: `render --check` and a re-render over all of it."""
        size = self.plan.fleet_sizes[-1]
        args = [str(p.relative_to(self.scratch)) for p in fleet_values(self.scratch / "fleet-values", size)]
        out = str(self._fresh(f"fleet{size}-noop").relative_to(self.scratch))
        self._render("--out", out, *args, cwd=self.scratch)
        time.sleep(2.1)  # as in steady(): past the racy-mtime window
        self._render("--out", out, *args, cwd=self.scratch)
        for mode, extra in (("check", ["--check"]), ("noop", [])):
            self._add(repeat(f"fleet-{size}-{mode}", f"  fleet of {size}, unchanged: render {' '.join(extra)}".rstrip(),
                             lambda extra=extra: self._render(*extra, "--out", out, *args, cwd=self.scratch),
                             self.plan.runs, 0, notes=["answered by the no-op cache: every values file and every "
                                                       "file of every tree hashed by content"]))

    def big_values(self) -> None:
        """A values file at the 1 MB input limit (and one half its size), its comments full of the pattern that
        made the old docker-config leak rule quadratic (issue 21: 8 minutes for 990 KB); time linear in size."""
        base = (ROOT / PROD).read_text("utf-8")
        line = "# " + '"auths":{"a":{' * 14 + "\n"
        for label, size in (("values-500kb", MAX_VALUES_BYTES // 2), ("values-1mb", MAX_VALUES_BYTES)):
            path = self.scratch / f"{label}.yaml"
            path.write_text(base + line * ((size - 1000 - len(base)) // len(line)), "utf-8")

            def once(path: Path = path) -> Sample:
                out = self._fresh(path.stem)
                sample = self._render(str(path), "--out", str(out), "--no-cache")
                _discard(out.parent)
                return sample

            self._add(repeat(label, f"render a {path.stat().st_size / 1e6:.2f} MB values file (--no-cache)", once,
                             self.plan.big_values_runs, 0, notes=["comments of repeated '\"auths\":{\"a\":{', "
                                                                  "scanned by the leak rules (issue 21)"]))

    def _fits(self, seconds: float) -> bool:
        return time.perf_counter() - self.started + seconds < BUDGET_S


def _discard(tree: Path) -> None:
    """Remove a measured run's output and flush the deletion (untimed), so the next run does not pay for it:
    on this VM's disk a 30,000-file deletion left pending slows the next run's writes several-fold."""
    shutil.rmtree(tree)
    os.sync()


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _print_section(title: str, body: str) -> None:
    print(f"\n{title}\n{body}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke test: fewer runs, fleets of 1, 10 and 30")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json",
                        help="where to write the results (default: bench/results/latest.json)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    tools = Tools.find()
    if not tools.render.is_file():
        parser.error(f"{tools.render} is missing: run `make render` (or `make bench`) first")
    # measured as installed: byte-compiled like any pip-installed package (PYTHONDONTWRITEBYTECODE, set on some
    # machines, would otherwise make every process compile the editable renderer/ afresh, about 20 ms)
    subprocess.run([str(tools.python), "-m", "compileall", "-q", str(ROOT / "renderer")], check=True)
    started, load_start = time.perf_counter(), _loadavg()
    with tempfile.TemporaryDirectory(prefix="sks-bench-") as scratch:
        os.environ["SKS_GITOPS_CACHE_DIR"] = str(Path(scratch) / "cache")  # measured as users run it, cache on
        os.environ.pop("SKS_GITOPS_NO_CACHE", None)
        bench = Bench(plan, tools, Path(scratch))
        anchor_notes: list[str] = []
        try:
            bench.floor()
            bench.cold()
            bench.big_values()
            bench.steady()
            anchor_notes = bench.anchor()
            _progress("import times")
            entries = imports.measure(tools.python, ROOT, plan.import_runs)
            bench.fleets()
            bench.floor("floor-fleet", "  interpreter floor again, right after the fleets")  # the marginal's yardstick
            bench.fleet_noop()
        except ProcessFailed as exc:
            print(f"bench: a measured process failed:\n{exc}", file=sys.stderr)
            return 1
    total_s = time.perf_counter() - started
    by_key = {r.key: r for r in bench.results}
    ratios, targets = report.evaluate(by_key, plan.fleet_sizes)
    root_entry = next((e for e in entries if e.depth == 0), None)
    total_import_us = root_entry.cumulative_us if root_entry else 0.0
    top, packages = imports.top(entries), imports.top_packages(entries)

    print(f"sks-gitops bench ({'quick' if args.quick else 'full'}): Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {load_start} -> {_loadavg()}")
    half = 0.5 * (os.cpu_count() or 1)
    busy = load_start[0] > half or _loadavg()[0] > half + 1  # the bench itself keeps about one CPU busy
    if busy:
        print("WARNING: the machine was busy (1-minute load average above half the CPUs, not counting the "
              "bench): figures are inflated and noisy; compare the CPU-time ratios, or rerun on an idle machine")
    print(report.table(bench.results))
    notes = [f"{r.label.strip()}: {note}" for r in bench.results for note in r.notes if not r.key.startswith("kust")]
    notes += [f"kustomize anchor: {note}" for note in anchor_notes]
    _print_section("Notes", "\n".join(f"- {note}" for note in notes))
    _print_section("Ratios", report.ratio_lines(ratios))
    _print_section("Targets", report.target_lines(targets))
    _print_section(f"Import time of renderer.cli.command (median of {plan.import_runs}, -X importtime): "
                   f"{total_import_us / 1000:.1f} ms",
                   report.import_lines("top five modules by cumulative time:", top, total_import_us) + "\n"
                   + report.import_lines("largest packages it pulls in (cumulative, with their own imports):",
                                         packages, total_import_us))
    print(f"\ntotal bench runtime: {total_s:.1f} s")

    record = {
        "meta": {"mode": "quick" if args.quick else "full", "python": platform.python_version(),
                 "platform": platform.platform(), "cpus": os.cpu_count(), "loadavg_start": load_start,
                 "loadavg_end": _loadavg(), "busy": busy, "kubectl": tools.kubectl, "helm": tools.helm,
                 "finished_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                 "total_s": round(total_s, 1), "plan": plan.__dict__},
        "results": {r.key: r.as_json() for r in bench.results},
        "ratios": {r.name: None if r.value is None else round(r.value, 4) for r in ratios},
        "targets": [{"target": t.name, "measured": None if t.measured is None else round(t.measured, 4),
                     "limit": t.limit, "verdict": t.verdict} for t in targets],
        "imports": {"total_ms": round(total_import_us / 1000, 2),
                    "top_modules": [{"module": e.module, "cumulative_ms": round(e.cumulative_us / 1000, 2)}
                                    for e in top],
                    "top_packages": [{"package": e.module, "cumulative_ms": round(e.cumulative_us / 1000, 2)}
                                     for e in packages]},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
