"""Text from a rendered tree or from out/ (a hand edit can hold anything) put into the PR-comment markdown so
that no value can end the block it sits in or render as a link, an image or HTML (issue 21).

CommonMark 0.31, "Fenced code blocks": a closing fence is a run of the same character at least as long as
the opening one, so a fence longer than every backtick run of the body cannot be closed from inside, and a
`~~~` line never closes a backtick fence. "Backslash escapes": any ASCII punctuation character may be
backslash-escaped; escaping those that can start markup leaves no link, image, emphasis, HTML tag, entity,
autolink or table pipe in a cell, and a Kubernetes name (letters, digits, `-`, `.`) unchanged.
"""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")
_MARKUP = re.compile(r"([\\`*_\[\]()<>!|&~:@])|(?<=www)(\.)", re.IGNORECASE)
"""What can start markup in a table cell: code, emphasis, links and images, HTML, entities, pipes,
strikethrough, and GFM's autolinks (`scheme:`, `user@host`, `www.`)."""
_PLAIN = re.compile(r"[A-Za-z0-9._/-]*")


def fence(body: str, info: str = "") -> str:
    """`body` as a fenced code block whose fence (backticks, at least 3) is longer than any backtick run in it."""
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    marker = "`" * max(3, longest + 1)
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{marker}{info}\n{body}{marker}\n"


def cell(text: str) -> str:
    """`text` as one table cell of plain text: what could start markup escaped, line breaks as spaces."""
    return _MARKUP.sub(lambda match: "\\" + match.group(0), " ".join(text.splitlines()))


def code(text: str) -> str:
    """`text` in a code span when it is a plain name or path, else as an escaped cell (a backtick or `|` in a
    code span would still end it or split the table row)."""
    return f"`{text}`" if _PLAIN.fullmatch(text) else cell(text)


def span(text: str) -> str:
    """`text` on one line as an inline code span whose backtick fence is longer than any run in it, pipes
    escaped (GFM reads `\\|` as `|` inside a table cell's code span)."""
    text = " ".join(text.splitlines()).replace("|", "\\|")
    marker = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{marker}{pad}{text}{pad}{marker}"
