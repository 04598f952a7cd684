"""Compute an expensive value once per test session, however many pytest-xdist workers ask for it.

A module- or session-scoped fixture runs once per worker; with `-n 2` an expensive one runs twice.
`once` keeps the first worker's pickled result in the session's shared temporary directory (the
parent of the workers' own ones) behind a file lock; the other workers wait for it and read it.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def session_dir(factory: pytest.TempPathFactory) -> Path:
    """The directory every worker of this session shares (this session's own under plain pytest)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once(factory: pytest.TempPathFactory, name: str, compute: Callable[[], T]) -> T:
    """compute()'s result, computed by the first worker of the session that asks for `name`."""
    root = session_dir(factory) / "shared-once"
    root.mkdir(exist_ok=True)
    result = root / f"{name}.pickle"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result.exists():
            value: T = pickle.loads(result.read_bytes())
            return value
        value = compute()
        partial = result.with_suffix(f".{os.getpid()}")
        partial.write_bytes(pickle.dumps(value))
        partial.replace(result)
        return value
