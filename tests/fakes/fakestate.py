"""What the fake `exo`, `kubectl` and `helm` share: the state directory, the call log, failures.

The fakes stand in for Exoscale and one SKS cluster in tests/test_bootstrap.py. They read:

- `FAKE_STATE_DIR` (required): `calls.jsonl` (one line per call: tool, argv, whether stdin
  carried data, never the data), `cloud.json` (Exoscale) and `cluster.json` (Kubernetes
  objects and Helm releases). A re-run sees what an earlier run made; a test seeds these
  files to report resources as already existing.
- `clock`: the fake clock, one tick per call that reaches Exoscale or the cluster (fake_cluster.py:
  what holds "some polls later").
- `FAKE_FAIL`: a call whose `tool arg arg...` contains this text fails, as the tool would.
- `FAKE_INTERRUPT`: a call whose `tool arg arg...` contains this text does its work (a pending
  exo operation stays pending), then sends SIGINT to its process group, as Ctrl-C in a
  terminal does, and dies of it.
- `FAKE_DELAY_<WHAT>`: ticks before something controllers do happens (fake_cluster.DELAYS).
- `FAKE_API_ENDPOINT`: `ip:port` behind the kubernetes Service (default the seed's).
- `FAKE_TIGERASTATUS_DEGRADED`: comma-separated tigerastatus names kept Degraded.
- `FAKE_PREINSTALLED`: comma-separated `argocd`, `flux`, `external-secrets`: present in a new cluster.
- `FAKE_HUB_ENDPOINT`, `FAKE_HUB_DOWN`, `FAKE_HUB_GIT_CLUSTERS`: the hub of hub mode (fake_hub.py).
- `FAKE_REAL_KUBECTL`: the real kubectl, run for calls that never reach a cluster
  (`patch --local`, `create --dry-run=client`, `config view`) and to evaluate jsonpath.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

DEFAULT_ENDPOINT = "194.182.185.29:30925"


def cluster_ca(cluster: dict[str, Any]) -> str:
    """The certificate-authority-data of a cluster's kubeconfig (a stand-in PEM, base64), as SKS sets it."""
    pem = f"-----BEGIN CERTIFICATE-----\nfake SKS cluster CA {cluster['id']}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


class ToolExit(Exception):
    """Ends a fake call with an exit code, after printing `message` on stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fail(message: str, code: int = 1) -> NoReturn:
    raise ToolExit(code, message)


def state_dir() -> Path:
    return Path(os.environ["FAKE_STATE_DIR"])


@contextmanager
def locked() -> Iterator[None]:
    """One fake at a time touches the state (pipelines run two at once)."""
    with open(state_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load(name: str, default: dict[str, Any]) -> dict[str, Any]:
    path = state_dir() / name
    if not path.exists():
        return default
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def save(name: str, data: dict[str, Any]) -> None:
    path = state_dir() / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
    tmp.replace(path)


def record(tool: str, argv: list[str], stdin: bytes, remote: bool) -> None:
    """Log the call; a call that reaches Exoscale or the cluster also advances the clock."""
    line = json.dumps({"tool": tool, "argv": argv, "stdin": bool(stdin)})
    with open(state_dir() / "calls.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    if remote:
        (state_dir() / "clock").write_text(str(now() + 1), "utf-8")


def now() -> int:
    """The fake clock: how many calls the fakes have answered."""
    clock = state_dir() / "clock"
    return int(clock.read_text("utf-8")) if clock.exists() else 0


def interrupted(tool: str, argv: list[str]) -> bool:
    pattern = os.environ.get("FAKE_INTERRUPT", "")
    return bool(pattern) and pattern in " ".join([tool, *argv])


def injected_failure(tool: str, argv: list[str]) -> str | None:
    pattern = os.environ.get("FAKE_FAIL", "")
    if pattern and pattern in " ".join([tool, *argv]):
        return pattern
    return None


def env_list(name: str) -> set[str]:
    return {item.strip() for item in os.environ.get(name, "").split(",") if item.strip()}


def read_stdin() -> bytes:
    if sys.stdin is None or sys.stdin.isatty():
        return b""
    return sys.stdin.buffer.read()


class Args:
    """argv split into positionals and flags, the way cobra reads them.

    `booleans` take no value; every other flag takes the next word unless written `--x=v`.
    `short` maps one-letter flags to their long names.
    """

    def __init__(self, argv: list[str], booleans: set[str], short: dict[str, str]) -> None:
        self.positionals: list[str] = []
        self.flags: dict[str, list[str]] = {}
        words = list(argv)
        while words:
            word = words.pop(0)
            if word == "-" or not word.startswith("-"):
                self.positionals.append(word)
                continue
            name, has_value, value = word.partition("=")
            if not name.startswith("--"):
                name = short.get(name, name)
            if name in booleans:
                self.flags.setdefault(name, []).append(value if has_value else "true")
                continue
            if not has_value:
                if not words:
                    fail(f"Error: flag needs an argument: {word}")
                value = words.pop(0)
            self.flags.setdefault(name, []).append(value)

    def get(self, name: str, default: str = "") -> str:
        values = self.flags.get(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.flags.get(name, []))

    def has(self, name: str) -> bool:
        return name in self.flags

    def only(self, allowed: set[str]) -> None:
        for name in self.flags:
            if name not in allowed:
                fail(f"Error: unknown flag: {name}")
