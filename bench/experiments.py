"""Measure the optimisation proposals before anyone edits renderer/: each variant is the CLI with a
prototype patched in at runtime (bench/patches.py) or run from an edited copy of the package.

    .venv/bin/python bench/experiments.py [--runs 5] [--fleet 100] [--only a,b]

Variants run round-robin (run 1 of every variant, then run 2, ...), so drift in machine load
spreads evenly over them. Every variant's tree must be byte-identical to the baseline's.
Results: a table on stdout and bench/results/experiments.json.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import Sample, run_once  # noqa: E402
from bench.workloads import fleet_values  # noqa: E402

PATCHES = ROOT / "bench" / "patches.py"
PROD = ROOT / "values" / "prod.yaml"

SourceEdit = tuple[str, str, "str | Callable[[re.Match[str]], str]"]
"""(file relative to the package root, regular expression matching exactly once, replacement): applied to a
copy of the package, never to the repo."""


def _redirects_on_demand(match: re.Match[str]) -> str:
    return ("def _https_only_redirects() -> Any:\n    import urllib.error\n    import urllib.request\n\n"
            + textwrap.indent(match[0].rstrip("\n") + "\n", "    ") + "    return _HttpsOnlyRedirects()\n\n\n")


LAZY_IMPORTS: tuple[SourceEdit, ...] = (
    ("renderer/cli.py", r"\nimport traceback\n", "\n"),
    ("renderer/cli.py", r"traceback\.format_exc\(\)", "__import__('traceback').format_exc()"),
    ("renderer/cli.py", r"from renderer import __version__, diff\n", "from renderer import __version__\n"),
    ("renderer/cli.py", r"\bdiff\.render_report\(", "__import__('renderer.diff').diff.render_report("),
    ("renderer/remote.py", r"\nimport urllib\.error\nimport urllib\.request\n", "\n"),
    ("renderer/remote.py", r"class _HttpsOnlyRedirects\(urllib\.request\.HTTPRedirectHandler\):.*?\n\n\n",
     _redirects_on_demand),
    ("renderer/remote.py", r"(\n    )opener = urllib\.request\.build_opener\(_HttpsOnlyRedirects\(\)\)",
     r"\1import urllib.error\1import urllib.request\1opener = urllib.request.build_opener(_https_only_redirects())"),
)
"""Only what the render/--check path never uses: traceback (internal errors), renderer.diff (--diff),
urllib.request with http.client, email and ssl (--lock/--verify-remote downloads)."""

LEAN_RESULTS: tuple[SourceEdit, ...] = (
    ("renderer/pipeline.py", r"(\n    if problems:\n        raise ValuesError\(problems\)\n)(    _pin_remote\()",
     r"\1    seen.clear()\n\2"),
    ("renderer/pipeline.py", r"\n    for item in prepared:\n(        cluster_dir = request\.out_dir / )",
     r"\n    prepared.reverse()\n    while prepared:\n        item = prepared.pop()\n\1"),
    ("renderer/pipeline.py", r"(ClusterResult\(item\.model\.cluster, item\.sources, )files, changes,",
     r"\1files if request.mode == 'diff' else dict.fromkeys(files, b''), changes,"),
)
"""Release each cluster's rendered tree once written, and keep file bytes in the report only for --diff."""

CLIB = Path(os.environ.get("SKS_BENCH_RUAMEL_CLIB", "/tmp/ruamel-clib"))
"""`pip install --target /tmp/ruamel-clib --no-deps ruamel.yaml.clib`: kept out of the project's venv."""


@dataclass(frozen=True)
class Variant:
    name: str
    patches: tuple[str, ...]
    edits: tuple[SourceEdit, ...] = ()
    what: str = ""
    path: Path | None = None
    """Extra PYTHONPATH entry (an optional package installed outside the venv)."""


VARIANTS = (
    Variant("baseline", ("baseline",), what="the CLI through the patch driver, nothing changed"),
    Variant("no-fsync", ("no-fsync",), what="upper bound: no fsync at all (not durable; not a proposal)"),
    Variant("syncfs-per-tree", ("syncfs-per-tree",), what="one syncfs(2) per staged tree, before the swap"),
    Variant("pyyaml-parseback", ("pyyaml-parseback",), what="parse-back with libyaml CSafeLoader + dup-key check"),
    Variant("ruamel-clib-parseback", ("ruamel-clib-parseback",), path=CLIB,
            what="parse-back with ruamel.yaml.clib's C parser (YAML 1.2)"),
    Variant("ruamel-reuse", ("ruamel-reuse",), what="one ruamel safe loader per process"),
    Variant("dump-reuse", ("dump-reuse",), what="one ruamel dumper per process"),
    Variant("memo-validation", ("memo-validation",), what="validate each distinct object once per process"),
    Variant("jinja-bytecode-cache", ("jinja-bytecode-cache",), what="Jinja FileSystemBytecodeCache"),
    Variant("k8s-versions-lazy", ("k8s-versions-lazy",), what="no kubernetes_validate/PyYAML import to list versions"),
    Variant("lazy-imports", ("baseline",), LAZY_IMPORTS, what="traceback, diff, urllib.request lazily"),
    Variant("lean-results", ("baseline",), LEAN_RESULTS, what="drop trees once written; bytes kept only for --diff"),
    Variant("combined", ("syncfs-per-tree", "pyyaml-parseback", "dump-reuse", "jinja-bytecode-cache",
                         "k8s-versions-lazy"), LAZY_IMPORTS + LEAN_RESULTS,
            what="syncfs, libyaml parse-back, dumper reuse, Jinja cache, lazy imports, lean results"),
)


@dataclass
class Measured:
    cold: list[Sample] = field(default_factory=list)
    noop: list[Sample] = field(default_factory=list)
    check: list[Sample] = field(default_factory=list)
    fleet: list[Sample] = field(default_factory=list)


def _package_root() -> Path:
    """Where `renderer` is imported from (honours PYTHONPATH, e.g. a snapshot of a commit)."""
    done = subprocess.run([sys.executable, "-P", "-c", "import renderer, pathlib; print(pathlib.Path(renderer.__file__)"
                           ".resolve().parent.parent)"], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def _edited_copy(edits: tuple[SourceEdit, ...], scratch: Path, name: str) -> Path:
    source, copy = _package_root(), scratch / f"src-{name}"
    for part in ("renderer", "templates", "schemas"):
        shutil.copytree(source / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, pattern, replacement in edits:
        path = copy / relative
        text, count = re.subn(pattern, replacement, path.read_text("utf-8"), flags=re.DOTALL)
        if count != 1:
            raise SystemExit(f"experiment {name}: {pattern!r} matches {count} times in {relative}; update the edit")
        path.write_text(text, "utf-8")
    return copy


def _env(variant: Variant, scratch: Path, sources: dict[str, Path]) -> dict[str, str]:
    env = dict(os.environ)
    env["SKS_BENCH_JINJA_CACHE"] = str(scratch / "jinja-cache")
    extra = [str(sources[variant.name])] if variant.name in sources else []
    extra += [str(variant.path)] if variant.path else []
    if extra:
        env["PYTHONPATH"] = os.pathsep.join([*extra, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, compared.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in compared.common_dirs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="kept runs per workload (default 5, after 1 warm-up)")
    parser.add_argument("--fleet", type=int, default=100, help="clusters in the fleet workload (default 100)")
    parser.add_argument("--fleet-runs", type=int, default=3, help="kept runs of the fleet (default 3)")
    parser.add_argument("--only", default="", help="comma-separated variant names (baseline is always run)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "experiments.json")
    args = parser.parse_args(argv)
    chosen = [v for v in VARIANTS if not args.only or v.name == "baseline" or v.name in args.only.split(",")]
    for variant in [v for v in chosen if v.path and not v.path.is_dir()]:
        print(f"experiments: skipping {variant.name}: {variant.path} is missing", file=sys.stderr)
        chosen.remove(variant)
    results = {v.name: Measured() for v in chosen}
    with tempfile.TemporaryDirectory(prefix="sks-bench-exp-") as tmp:
        scratch = Path(tmp)
        sources = {v.name: _edited_copy(v.edits, scratch, v.name) for v in chosen if v.edits}
        fleet = [str(p) for p in fleet_values(scratch / "fleet-values", args.fleet)]
        steady: dict[str, Path] = {}

        def render(variant: Variant, *render_args: str) -> Sample:
            argv = [sys.executable, str(PATCHES), ",".join(variant.patches), "--", *render_args]
            return run_once(argv, ROOT, env=_env(variant, scratch, sources))

        for variant in chosen:  # warm-up, and the trees every variant must reproduce byte for byte
            out = scratch / f"steady-{variant.name}"
            render(variant, str(PROD), "--out", str(out))
            steady[variant.name] = out
            render(variant, "--out", str(scratch / f"fleet-{variant.name}"), *fleet[:3])
            if not _same_tree(out, steady["baseline"]) or not _same_tree(
                    scratch / f"fleet-{variant.name}", scratch / "fleet-baseline"):
                subprocess.run(["diff", "-r", str(out), str(steady["baseline"])], check=False)
                raise SystemExit(f"variant {variant.name} renders different bytes than the baseline")
        for index in range(max(args.runs, args.fleet_runs)):
            print(f"experiments: round {index + 1}", file=sys.stderr, flush=True)
            for variant in chosen:
                measured = results[variant.name]
                if index < args.runs:
                    out = scratch / f"cold-{variant.name}-{index}"
                    measured.cold.append(render(variant, str(PROD), "--out", str(out)))
                    shutil.rmtree(out)
                    measured.noop.append(render(variant, str(PROD), "--out", str(steady[variant.name])))
                    measured.check.append(render(variant, "--check", str(PROD), "--out", str(steady[variant.name])))
                if index < args.fleet_runs:
                    out = scratch / f"fleetrun-{variant.name}-{index}"
                    measured.fleet.append(render(variant, "--out", str(out), *fleet))
                    shutil.rmtree(out)
        fast = _fast_path(scratch, steady["baseline"], args.runs)
    print(_table(chosen, results, args.fleet))
    print(f"\nno-op fast-path prototype (bench/fastpath.py, stdlib only, min of {args.runs + 1}): "
          f"{fast['fastpath_ms']:.1f} ms hashing code by content ({fast['ratio']:.2f}x floor), "
          f"{fast['fastpath_stat_code_ms']:.1f} ms by size+mtime ({fast['ratio_stat_code']:.2f}x floor), "
          f"{fast['fastpath_lean_ms']:.1f} ms lean: os + _sha256 only (bench/fastpath_lean.py, "
          f"{fast['ratio_lean']:.2f}x floor); "
          f"interpreter floor {fast['floor_ms']:.1f} ms")
    workloads = ("cold", "noop", "check", "fleet")
    record: dict[str, object] = {v.name: {"what": v.what, "patches": list(v.patches), "source_edits": len(v.edits),
                                          **{k: _summary(getattr(results[v.name], k)) for k in workloads}}
                                 for v in chosen}
    record["_fastpath"] = fast
    record["_meta"] = {"fleet": args.fleet, "runs": args.runs, "fleet_runs": args.fleet_runs,
                       "loadavg_end": list(os.getloadavg())}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    return 0


def _fast_path(scratch: Path, steady: Path, runs: int) -> dict[str, float]:
    """The no-op lower bound with an input digest (see bench/fastpath.py) against `python -c pass`."""
    found = {}
    for option in ([], ["--stat-code"]):
        argv = [sys.executable, str(ROOT / "bench" / "fastpath.py"), *option, str(_package_root()), str(steady),
                str(PROD)]
        run_once(argv, ROOT, expect=(1,))  # records the digest
        found["".join(option) or "content"] = min(run_once(argv, ROOT).seconds for _ in range(runs + 1))
    lean = [sys.executable, str(ROOT / "bench" / "fastpath_lean.py"), str(_package_root()),
            str(next(p for p in steady.iterdir() if p.is_dir())), str(PROD)]
    run_once(lean, ROOT, expect=(1,))
    found["lean"] = min(run_once(lean, ROOT).seconds for _ in range(runs + 1))
    floor = min(run_once([sys.executable, "-c", "pass"], ROOT).seconds for _ in range(runs + 1))
    return {"fastpath_ms": found["content"] * 1000, "fastpath_stat_code_ms": found["--stat-code"] * 1000,
            "fastpath_lean_ms": found["lean"] * 1000, "ratio_lean": found["lean"] / floor,
            "floor_ms": floor * 1000, "ratio": found["content"] / floor,
            "ratio_stat_code": found["--stat-code"] / floor}


def _summary(samples: list[Sample]) -> dict[str, object]:
    return {"median_s": statistics.median(s.seconds for s in samples), "min_s": min(s.seconds for s in samples),
            "median_cpu_s": statistics.median(s.cpu_seconds for s in samples),
            "samples_s": [round(s.seconds, 6) for s in samples],
            "samples_cpu_s": [round(s.cpu_seconds, 6) for s in samples],
            "peak_rss_kib": max(s.max_rss_kib for s in samples)}


def _table(chosen: list[Variant], results: dict[str, Measured], fleet: int) -> str:
    """Minimum wall time (noise only ever adds to it) and median CPU time, with the change against baseline."""

    def low(samples: list[Sample]) -> float:
        return min(s.seconds for s in samples) * 1000

    def cpu(samples: list[Sample]) -> float:
        return statistics.median(s.cpu_seconds for s in samples) * 1000

    base = results["baseline"]
    columns = ("cold", "noop", "check", "fleet")
    head = f"{'variant':<21}" + "".join(f"{name + ' wall':>16}{name + ' cpu':>15}" for name in columns)
    head += f"{'wall ms/cl':>11}{'cpu ms/cl':>10}{'RSS MiB':>8}"
    lines = [f"ms: minimum wall / median CPU of the runs; (+/-) against baseline; fleet = {fleet} clusters; "
             "ms/cl = (fleet - cold) / (clusters - 1)", head, "-" * len(head)]
    for variant in chosen:
        m = results[variant.name]
        cells = []
        for name in columns:
            mine, theirs = getattr(m, name), getattr(base, name)
            cells.append(f"{low(mine):>8.0f}({low(mine) - low(theirs):>+6.0f})"
                         f"{cpu(mine):>8.0f}({cpu(mine) - cpu(theirs):>+5.0f})")
        per_wall = (low(m.fleet) - low(m.cold)) / (fleet - 1)
        per_cpu = (cpu(m.fleet) - cpu(m.cold)) / (fleet - 1)
        rss = max(s.max_rss_kib for s in m.fleet) / 1024
        lines.append(f"{variant.name:<21}" + "".join(cells) + f"{per_wall:>11.1f}{per_cpu:>10.1f}{rss:>8.1f}")
    lines.append("")
    lines.extend(f"{v.name:<22} {v.what}" for v in chosen)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
