"""Size limits of a values file checked on the raw text, so an oversized file is refused in milliseconds.

ruamel's scanner is pure Python: a 1 MB file of 10^5 keys costs it seconds before any limit on the
parsed document could apply.
"""

from __future__ import annotations

import re

MAX_ENTRIES = 1_000
"""Keys and list items a values file may write out (prod.yaml has about 40)."""

_CONTENT_LINE = re.compile(r"(?m)^[ \t]*[^ \t\r\n#]")
_ANCHOR = re.compile(r"(?:^|[\s\[{,:-])&[^\s\[\]{},]")


def too_many_entries(text: str, subject: str = "document", limit_of: str = "a values file") -> str:
    """The message when `text` may hold more than MAX_ENTRIES keys and list items ('' otherwise).

    Counted as every line with content plus every comma: an upper bound of the entries, in C-speed passes."""
    count = len(_CONTENT_LINE.findall(text)) + text.count(",")
    if count <= MAX_ENTRIES:
        return ""
    return (f"{subject} has more than {MAX_ENTRIES} keys and list items (the limit for {limit_of}; "
            f"counted as lines with content plus flow commas: {count})")


def has_anchors(text: str) -> bool:
    """Whether the text defines any anchor: without one, no alias can expand the document."""
    return bool(_ANCHOR.search(text))
