"""The PR markdown's approvals: what a reviewer approves beyond the diff, for one cluster.

Kept apart from diff.py's summary and diff parts: the destructive edits the values acknowledge
(renderer/validate/destructive.py) and, when `tigera.version` changed, the upgrade headline (its steps are
in the rollout plan below it, renderer/model/upgrade.py).
"""

from __future__ import annotations

from renderer.cli.mdsafe import cell, code, span
from renderer.leaks import redact
from renderer.pipeline import ClusterResult


def section(result: ClusterResult) -> list[str]:
    """Markdown lines (empty when there is nothing to approve beyond the diff)."""
    lines: list[str] = []
    if result.upgrade is not None:
        lines += [f"**Upgrade:** {result.upgrade.headline()} (steps in order: the rollout plan below)", ""]
    acknowledged = result.review.acknowledged
    if acknowledged:
        lines += ["> [!WARNING]",
                  f"> **Destructive changes, acknowledged in the values ({len(acknowledged)}):** the operator "
                  "deletes and recreates these; check the `acknowledge:` entries in the values diff.", "",
                  "| change | object | from (out/) | to | what happens |", "|---|---|---|---|---|"]
        lines += [f"| {code(change.change)} | {cell(change.object)} | {code(change.old)} | {code(change.new)} "
                  f"| {cell(change.consequence)} |" for change in acknowledged]
        lines.append("")
    if result.review.spent:
        lines += ["Acknowledgements whose change is already in out/ (remove them once merged): "
                  + ", ".join(span(said) for said in result.review.spent), ""]
    while lines and not lines[-1]:
        lines.pop()
    return [redact.scrub(line) for line in lines]
