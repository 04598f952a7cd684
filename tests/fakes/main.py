"""Entry point of the fake tools: `main.py TOOL ARGS...`, run by the `exo`, `kubectl`, `helm` wrappers.

Every call is recorded (argv, and whether stdin carried data) before it is answered; see
fakestate.py for the environment the fakes read.
"""

from __future__ import annotations

import importlib
import sys

from fakestate import ToolExit, injected_failure, locked, read_stdin, record


def answer(tool: str, argv: list[str], stdin: bytes) -> str:
    module = importlib.import_module(f"fake_{tool}")  # one tool's imports per call: the fakes start fast
    if tool == "kubectl":
        return str(module.main(argv, stdin))
    return str(module.main(argv))


def run(tool: str, argv: list[str]) -> int:
    stdin = read_stdin()  # before the lock: the writer of a pipeline may hold it
    with locked():
        record(tool, argv, stdin)
        try:
            if injected_failure(tool, argv):
                raise ToolExit(1, f"Error: {tool} {argv[0] if argv else ''}: injected failure (FAKE_FAIL)")
            sys.stdout.write(answer(tool, argv, stdin))
        except ToolExit as exc:
            if exc.message:
                sys.stderr.write(exc.message.rstrip("\n") + "\n")
            return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2:]))
