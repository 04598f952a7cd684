"""Time whole processes: wall clock around fork..reap, peak RSS from the reaped child's rusage.

Why a separate spawner: on exec Linux folds the old address space's high-water mark into the
new program's `ru_maxrss`, and a child forked (or vforked) from this benchmark starts with the
benchmark's own high-water mark (tens of MiB). So each measured command is forked by a tiny
`python -S` process (about 5 MiB: the floor of any RSS reported here) that times fork..`wait4`
and prints the elapsed seconds, `ru_maxrss` (KiB on Linux), the exit code and the CPU time.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_SPAWNER = """\
import os, sys, time
argv = sys.argv[1:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.dup2(2, 1)
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status),
      usage.ru_utime + usage.ru_stime)
"""


class ProcessFailed(Exception):
    """A measured process exited with an unexpected code; carries the tail of its output."""


@dataclass(frozen=True)
class Sample:
    seconds: float
    max_rss_kib: int
    cpu_seconds: float = 0.0
    """User plus system CPU time of the process: far less sensitive to other load than wall time."""


def run_once(argv: Sequence[str], cwd: Path, expect: tuple[int, ...] = (0,),
             env: Mapping[str, str] | None = None) -> Sample:
    """Run one process to completion; its output goes to a temporary file shown only on failure."""
    with tempfile.TemporaryFile() as log:
        done = subprocess.run([sys.executable, "-S", "-c", _SPAWNER, *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=log, env=None if env is None else dict(env), check=False)
        fields = done.stdout.split()
        code = int(fields[2]) if done.returncode == 0 and len(fields) == 4 else None
        if code not in expect:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace")[-4000:]
            raise ProcessFailed(f"`{shlex.join(argv)}` (in {cwd}) exited {code}, expected {expect}:\n{tail}")
    return Sample(float(fields[0]), int(fields[1]), float(fields[3]))


def combine(samples: Sequence[Sample]) -> Sample:
    """Several processes run one after another as one measurement: summed time, largest RSS."""
    return Sample(sum(s.seconds for s in samples), max(s.max_rss_kib for s in samples),
                  sum(s.cpu_seconds for s in samples))


@dataclass(frozen=True)
class Result:
    """Repeated measurements of one workload; warm-up runs are made but not kept."""

    key: str
    label: str
    samples: tuple[Sample, ...]
    warmups: int
    processes: int = 1
    notes: tuple[str, ...] = field(default=())

    @property
    def median_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def min_s(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def max_s(self) -> float:
        return max(s.seconds for s in self.samples)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples)

    @property
    def peak_rss_kib(self) -> int:
        """The largest peak over all kept runs (peak RSS barely varies; the maximum is the honest bound)."""
        return max(s.max_rss_kib for s in self.samples)

    def as_json(self) -> dict[str, object]:
        return {"label": self.label, "runs": len(self.samples), "warmups": self.warmups,
                "processes_per_run": self.processes, "median_s": round(self.median_s, 6),
                "min_s": round(self.min_s, 6), "max_s": round(self.max_s, 6),
                "median_cpu_s": round(self.median_cpu_s, 6),
                "peak_rss_kib": self.peak_rss_kib, "samples_s": [round(s.seconds, 6) for s in self.samples],
                "notes": list(self.notes)}


def repeat(key: str, label: str, once: Callable[[], Sample], runs: int, warmups: int,
           processes: int = 1, notes: Sequence[str] = ()) -> Result:
    """`once` does its own untimed set-up and clean-up around the timed process(es)."""
    for _ in range(warmups):
        once()
    return Result(key, label, tuple(once() for _ in range(runs)), warmups, processes, tuple(notes))
