"""The exit codes of `render`, in one place: the errors carry them (errors.py), the CLI exits with them
and lists MEANING in its --help; no other module names an exit status (tests/test_layout.py)."""

from __future__ import annotations

OK = 0
DIFFERS = 1
INVALID = 2
INTERNAL = 3

MEANING = {
    OK: "rendered (or, with --check/--diff, out/ is current)",
    DIFFERS: "--check/--diff: out/ differs from what would be rendered",
    INVALID: "invalid values, --set, usage or output location (nothing written)",
    INTERNAL: "internal error: a template produced an invalid object or a tree that cannot converge (a bug); "
              "--verify: a delivery of the tree on disk does not converge",
}
