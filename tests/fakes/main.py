"""Entry point of the fake tools: `main.py TOOL ARGS...`, run by the `exo`, `kubectl`, `helm` wrappers.

Every call is recorded (argv, and whether stdin carried data) before it is answered; see
fakestate.py for the environment the fakes read.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time

from fakestate import ToolExit, injected_failure, interrupted, locked, read_stdin, record


def local(argv: list[str]) -> bool:
    """kubectl as a parser or builder: `patch --local`, `create --dry-run=client`, `config`, `kustomize`."""
    verb = next((word for word in argv if not word.startswith("-")), "")
    return verb in ("config", "kustomize") or (verb == "patch" and "--local" in argv) or (
        verb == "create" and "--dry-run=client" in argv)


def answer(tool: str, argv: list[str], stdin: bytes) -> str:
    module = importlib.import_module(f"fake_{tool}")  # one tool's imports per call: the fakes start fast
    if tool == "kubectl":
        return str(module.main(argv, stdin))
    return str(module.main(argv))


def serve(tool: str, argv: list[str]) -> tuple[int, bool]:
    """Answer one call on this process's stdin, stdout and stderr: its exit code, and whether Ctrl-C follows."""
    stdin = read_stdin()  # before the lock: the writer of a pipeline may hold it
    code = 0
    with locked():
        record(tool, argv, stdin, remote=not (tool == "kubectl" and local(argv)))
        try:
            if injected_failure(tool, argv):
                raise ToolExit(1, f"Error: {tool} {argv[0] if argv else ''}: injected failure (FAKE_FAIL)")
            sys.stdout.write(answer(tool, argv, stdin))
        except ToolExit as exc:
            if exc.message:
                sys.stderr.write(exc.message.rstrip("\n") + "\n")
            code = exc.code
    return code, interrupted(tool, argv)


def run(tool: str, argv: list[str]) -> int:
    code, interrupt = serve(tool, argv)
    if interrupt:
        ctrl_c()
    return code


def ctrl_c() -> None:
    """What a terminal does on Ctrl-C: SIGINT to every process of the foreground group."""
    sys.stdout.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.killpg(os.getpgrp(), signal.SIGINT)
    time.sleep(5)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2:]))
