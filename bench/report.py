"""Turn measurements into ratios, target verdicts, a printed table and the JSON record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.imports import ImportEntry
from bench.measure import Result

MIB = 1024


@dataclass(frozen=True)
class Ratio:
    name: str
    value: float | None
    unit: str = "x"


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None
    limit: float
    unit: str
    strict: bool = False
    """`<` instead of `<=`."""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        ok = self.measured < self.limit if self.strict else self.measured <= self.limit
        return "PASS" if ok else "FAIL"

    def describe(self) -> str:
        shown = "n/a" if self.measured is None else f"{self.measured:.2f}{self.unit}"
        return f"{self.name:<44} {shown:>12}  {'<' if self.strict else '<='} {self.limit:g}{self.unit}"


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def evaluate(results: dict[str, Result], fleet_sizes: tuple[int, ...]) -> tuple[list[Ratio], list[Target]]:
    def median(key: str) -> float | None:
        return results[key].median_s if key in results else None

    def cpu(key: str) -> float | None:
        return results[key].median_cpu_s if key in results else None

    floor, cold, noop, check = median("floor"), median("cold"), median("noop"), median("check")
    anchor, anchor_plain = median("kustomize"), median("kustomize-no-helm")
    big, prev = fleet_sizes[-1], fleet_sizes[-2]
    t_big, t_prev = median(f"fleet-{big}"), median(f"fleet-{prev}")
    marginal_ms = None if t_big is None or t_prev is None else (t_big - t_prev) / (big - prev) * 1000
    c_big, c_prev = cpu(f"fleet-{big}"), cpu(f"fleet-{prev}")
    marginal_cpu_ms = None if c_big is None or c_prev is None else (c_big - c_prev) / (big - prev) * 1000
    rss_big = results[f"fleet-{big}"].peak_rss_kib * 1024 / 1e6 if f"fleet-{big}" in results else None
    # the marginal's yardstick: the floor measured right after the fleets, under the same load
    beside, cpu_floor = median("floor-fleet") or floor, cpu("floor-fleet") or cpu("floor")
    ratios = [
        Ratio("cold render / interpreter floor", _div(cold, floor)),
        Ratio("cold render / kustomize anchor (all stage dirs)", _div(cold, anchor)),
        Ratio("cold render / kustomize anchor (without helm stage)", _div(cold, anchor_plain)),
        Ratio("no-op re-render / cold render", _div(noop, cold)),
        Ratio("no-op re-render / interpreter floor", _div(noop, floor)),
        Ratio("render --check / interpreter floor", _div(check, floor)),
        Ratio("cold render, warm per-user cache / interpreter floor", _div(median("cold-warm"), floor)),
        Ratio("no-op re-render --no-cache (full run) / interpreter floor", _div(median("noop-full"), floor)),
        Ratio("render --check --no-cache (full run) / interpreter floor", _div(median("check-full"), floor)),
        Ratio(f"fleet({big}) / fleet({prev})", _div(t_big, t_prev)),
        Ratio(f"fleet marginal cost ({prev}->{big})", marginal_ms, " ms/cluster"),
        Ratio("  interpreter floor, measured after the fleets", _ms(beside), " ms/process"),
        Ratio("  fleet marginal cost / interpreter floor", _div(marginal_ms, _ms(beside))),
        Ratio("1 MB values file / 500 KB values file, by CPU time (linear: under 2, start-up is fixed)",
              _div(cpu("values-1mb"), cpu("values-500kb"))),
        Ratio("context, by CPU time (robust to other load):", None, ""),
        Ratio("  cold render / interpreter floor", _div(cpu("cold"), cpu("floor"))),
        Ratio("  no-op re-render / cold render", _div(cpu("noop"), cpu("cold"))),
        Ratio(f"  fleet({big}) / fleet({prev})", _div(c_big, c_prev)),
        Ratio(f"  fleet marginal cost ({prev}->{big})", marginal_cpu_ms, " ms/cluster"),
        Ratio("  fleet marginal cost / interpreter floor", _div(marginal_cpu_ms, _ms(cpu_floor))),
    ]
    full = big == 1000
    targets = [
        Target("cold <= 2.5x floor", _div(cold, floor), 2.5, "x"),
        Target("cold <= kustomize anchor", _div(cold, anchor), 1.0, "x"),
        Target("no-op <= 1.5x floor", _div(noop, floor), 1.5, "x"),
        Target("--check <= 1.5x floor", _div(check, floor), 1.5, "x"),
        Target("fleet marginal < interpreter floor", _div(marginal_ms, _ms(beside)), 1.0, "x", strict=True),
        Target(f"fleet({big})/fleet({prev}) <= {1.1 * big / prev:g}", _div(t_big, t_prev), 1.1 * big / prev, "x"),
        Target("peak RSS at 1000 clusters <= 150 MB", rss_big if full else None, 150.0, " MB"),
    ]
    return ratios, targets


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def table(results: list[Result]) -> str:
    head = (f"{'workload':<50} {'runs':>6} {'median ms':>11} {'min ms':>10} {'max ms':>10} {'CPU ms':>10} "
            f"{'peak RSS MiB':>13}")
    lines = [head, "-" * len(head)]
    for r in results:
        runs = f"{len(r.samples)}+{r.warmups}w"
        lines.append(f"{r.label:<50} {runs:>6} {_fmt_ms(r.median_s):>11} {_fmt_ms(r.min_s):>10} "
                     f"{_fmt_ms(r.max_s):>10} {_fmt_ms(r.median_cpu_s):>10} {r.peak_rss_kib / MIB:>13.1f}")
    return "\n".join(lines)


def ratio_lines(ratios: list[Ratio]) -> str:
    def show(r: Ratio) -> str:
        if r.value is None:
            return "" if r.name.endswith(":") else "n/a"
        return f"{r.value:.2f}{r.unit}"

    return "\n".join(f"{r.name:<60} {show(r):>16}" for r in ratios)


def target_lines(targets: list[Target]) -> str:
    return "\n".join(f"[{t.verdict:<4}] {t.describe()}" for t in targets)


def import_lines(title: str, entries: list[ImportEntry], total_us: float,
                 label: Callable[[ImportEntry], str] = lambda e: e.module) -> str:
    lines = [title]
    for entry in entries:
        share = entry.cumulative_us / total_us * 100 if total_us else 0.0
        lines.append(f"  {label(entry):<40} {entry.cumulative_us / 1000:>8.1f} ms  {share:>5.1f}%")
    return "\n".join(lines)
