"""The `render` command, the only place that prints and exits (exit codes: renderer/exitcodes.py).

`main` is the console script. It first asks the no-op cache (renderer/cache/noop.py, stdlib only)
whether an unchanged run can be answered from its record, and only then imports click, Jinja and
jsonschema for the full command (command.py). diff.py and fleet.py turn the pipeline's report into
the text the command prints.
"""

import sys

from renderer.cache import noop


def main() -> None:
    """The recorded answer when it certainly still holds, else the full command."""
    try:
        message, pending = noop.lookup(sys.argv[1:])
    except (OSError, ValueError):
        message, pending = None, None
    if message is not None:
        sys.stderr.write(message)
        sys.stderr.flush()
        return  # exit status 0 (exitcodes.OK): the console script and __main__ end when main() returns
    from renderer.cli import command  # click, Jinja and jsonschema load only for a full run

    command.main(obj=pending)
