"""The PR markdown at fleet scale: identical blocks of several clusters shown once, and a comment-sized cut.

A change made in a shared layer reads the same in every cluster but for the cluster's own name (its tree's
path, its nodepool, its security group). Blocks (a cluster's section, its diff, its plan) that are equal once
each cluster's own name is set aside form one group, shown once with `CLUSTER-NAME` where each name stood and
naming every cluster it covers. The blocks are markdown already escaped (mdsafe.py); a cluster name is a DNS
label (schemas/values.schema.json, `dnsLabel`), so the placeholder, made of the same characters, sits
wherever a name sat without opening or closing anything.

GitHub refuses a comment over 65,536 characters; `cut` keeps the parts that fit and returns the rest, which
the command writes to the file named in the comment (`--markdown-overflow FILE`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from renderer.cli.mdsafe import code

PLACEHOLDER = "CLUSTER-NAME"
COMMENT_LIMIT = 65_536
"""GitHub's limit on an issue or pull-request comment body, in characters."""


def _split(text: str, cluster: str) -> tuple[str, ...]:
    """`text` cut at every occurrence of the cluster's name that is not part of a longer word or number."""
    return tuple(re.split(rf"(?<![A-Za-z0-9]){re.escape(cluster)}(?![A-Za-z0-9])", text))


@dataclass
class Group:
    clusters: list[str]
    own: str
    """The block of the first cluster, as rendered for it."""
    generic: str
    """The block with PLACEHOLDER where the cluster's name stood."""

    @property
    def text(self) -> str:
        return self.own if len(self.clusters) == 1 else self.generic


def group(blocks: Sequence[tuple[str, str]]) -> list[Group]:
    """(cluster, block) pairs grouped by the block with each one's own name set aside, in first-seen order."""
    found: dict[tuple[str, ...], Group] = {}
    for cluster, text in blocks:
        pieces = _split(text, cluster)
        if pieces in found:
            found[pieces].clusters.append(cluster)
        else:
            found[pieces] = Group([cluster], text, PLACEHOLDER.join(pieces))
    return list(found.values())


def names(clusters: Sequence[str]) -> str:
    """The clusters as a list of code spans (a name is a DNS label: code() keeps it as written)."""
    return ", ".join(code(cluster) for cluster in clusters)


def covers(clusters: Sequence[str]) -> str:
    """The line under a group's heading."""
    return (f"The same in each of these {len(clusters)} clusters once its own name is set aside "
            f"(`{PLACEHOLDER}` below stands for it): {names(clusters)}")


def cut(parts: Sequence[str], overflow: str, limit: int = COMMENT_LIMIT) -> tuple[str, str]:
    """(comment, rest): the leading parts (joined by newlines) that fit under `limit` with a closing note naming
    `overflow` (the file the rest is written to), and the rest; the whole body and "" when it all fits."""
    whole = "\n".join(parts)
    if len(whole) < limit:
        return whole, ""
    note = (f"\n**Cut at GitHub's {limit:,}-character comment limit:** the remaining COUNT part(s) of this "
            f"body are in {code(overflow)} (render --markdown-overflow).\n")
    room = limit - len(note) - 20
    size, kept = 0, 0
    while kept < len(parts) and size + len(parts[kept]) + 1 <= room:
        size += len(parts[kept]) + 1
        kept += 1
    return "\n".join(parts[:kept]) + note.replace("COUNT", str(len(parts) - kept), 1), "\n".join(parts[kept:])
