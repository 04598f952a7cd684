"""Prepare a large fleet's clusters on every CPU this process may use.

Loading, validating, rendering and checking one cluster is pure and independent of the others,
so forked workers do it and send back plain results, in order; writing stays in this process and
starts only once every cluster is known good, exactly as in a serial run. The first cluster is
prepared here before forking, so the workers inherit compiled templates, schema validators and
memo tables. Small fleets, one CPU, a platform without fork, or a process that already runs
threads (forking those can deadlock) prepare serially.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from renderer.errors import RenderError

MIN_CLUSTERS = 16
"""Below this a pool costs more than it saves (forking and pickling are a few ms per worker)."""
CHUNK = 4

Item = TypeVar("Item")
Result = TypeVar("Result")


class WorkerFailed(Exception):
    """An unexpected exception in a worker (a bug), carrying the worker's traceback as text."""


_task: Callable[[Any], Any] | None = None
"""The task of the pool being run: set before forking, so workers inherit it (closures never pickle)."""


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _run(item: Any) -> tuple[str, Any]:
    """In a worker: the result, or the error in a form that survives pickling with its problems intact."""
    assert _task is not None
    try:
        return "ok", _task(item)
    except RenderError as exc:
        return "error", (type(exc), exc.problems)
    except Exception:  # noqa: BLE001 - shown once by the CLI's boundary, with this traceback
        return "bug", traceback.format_exc()


def _parallel(items: list[Any]) -> bool:
    return (len(items) >= MIN_CLUSTERS and cpus() > 1 and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def ordered_map(task: Callable[[Item], Result], items: list[Item]) -> Iterator[Result]:
    """task(item) for every item, in order, raising what task raised (a RenderError with the same problems)."""
    global _task
    if not _parallel(items):
        yield from map(task, items)
        return
    yield task(items[0])
    _task = task
    try:
        with multiprocessing.get_context("fork").Pool(min(cpus(), len(items) - 1)) as pool:
            for status, value in pool.imap(_run, items[1:], chunksize=CHUNK):
                if status == "bug":
                    raise WorkerFailed(f"in a worker process:\n{value}")
                if status == "error":
                    kind, problems = value
                    raise kind(problems)
                yield value
    finally:
        _task = None
