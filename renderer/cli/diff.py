"""`render --diff`: what a render would change, as a unified diff or a PR-comment markdown body.

Secret-like content never appears: a rendered Secret with data is already an error (the
leak guard), data/stringData values are masked here all the same (in a `kind: List` too), and
any other secret-shaped span of a file (one edited by hand in out/) is redacted (redact.scrub).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from renderer import yamlio
from renderer.cli import approvals, fleetmd, review
from renderer.cli.mdsafe import cell, code, fence
from renderer.leaks import redact
from renderer.pipeline import ClusterResult, Report
from renderer.write import MANIFEST

PART_LIMIT = 60_000
MASK = "<masked>"

ObjectKey = tuple[str, str, str]


def _has_secret(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    items = doc.get("items")
    return doc.get("kind") == "Secret" or (isinstance(items, list) and any(_has_secret(item) for item in items))


def _mask_doc(doc: Any) -> Any:
    """A Secret with every data/stringData value masked; a List (any `kind: ...List`) with its items masked."""
    if not isinstance(doc, dict):
        return doc
    doc = dict(doc)
    if doc.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(doc.get(key), dict):
                doc[key] = {name: MASK for name in doc[key]}
            elif key in doc:
                doc[key] = MASK
    if isinstance(doc.get("items"), list):
        doc["items"] = [_mask_doc(item) for item in doc["items"]]
    return doc


mask_doc = _mask_doc
"""The masking rule, for the field table of the PR markdown (review.py)."""


def _mask(text: str) -> str:
    """Replace every value under data/stringData of Secrets (top level or inside a List), by structure, not by line."""
    if "Secret" not in text:
        return text
    try:
        documents = yamlio.load_all_plain(text)
    except Exception:  # noqa: BLE001 - unparseable: fall back to dropping everything below data keys
        return _mask_lines(text)
    if not any(_has_secret(doc) for doc in documents):
        return text
    return "---\n".join(yamlio.dump(_mask_doc(doc)).replace(f'"{MASK}"', MASK) if doc is not None else ""
                        for doc in documents)


def _mask_lines(text: str) -> str:
    """For text that does not parse: keep the data:/stringData: keys, drop everything below them."""
    lines, masking_indent = [], -1
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if masking_indent >= 0:
            if not stripped or indent > masking_indent:
                continue
            masking_indent = -1
        key, colon, rest = stripped.partition(":")
        if colon and key.strip("'\"") in ("data", "stringData"):
            masking_indent = -1 if rest.strip() else indent
            line = " " * indent + f"{key}: {MASK}\n"
        lines.append(line)
    return "".join(lines)


def _decode(data: bytes | None) -> str:
    """A file's text as the diff may show it: Secret data masked, then any other secret-shaped span redacted
    (a hand-edited file in out/ can hold anything)."""
    return redact.scrub(_mask(data.decode("utf-8", "replace"))) if data is not None else ""


def _file_diff(old: bytes | None, new: bytes | None, path: str) -> str:
    before, after = _decode(old).splitlines(keepends=True), _decode(new).splitlines(keepends=True)
    lines = list(difflib.unified_diff(before, after, fromfile=f"a/{path}" if old is not None else "/dev/null",
                                      tofile=f"b/{path}" if new is not None else "/dev/null"))
    header = f"diff --git a/{path} b/{path}\n"
    return header + "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                            for line in lines)


def _pairs(result: ClusterResult) -> list[tuple[str, bytes | None, bytes | None]]:
    changes = result.changes
    pairs: list[tuple[str, bytes | None, bytes | None]] = []
    for path in changes.added:
        pairs.append((path, None, result.files[path]))
    for path in changes.changed:
        pairs.append((path, result.old.get(path), result.files[path]))
    for path in changes.removed:
        pairs.append((path, result.old.get(path), None))
    return sorted(pair for pair in pairs if pair[0] != MANIFEST)


def _cluster_diff(result: ClusterResult, out_dir: Path) -> str:
    return "".join(_file_diff(old, new, (out_dir / result.cluster / path).as_posix().lstrip("/"))
                   for path, old, new in _pairs(result))


def unified(report: Report, out_dir: Path) -> str:
    return "".join(_cluster_diff(result, out_dir) for result in report.results)


def grouped_diff(report: Report, out_dir: Path) -> str:
    """The unified diff with the diffs that are identical across clusters (own name set aside) shown once,
    their paths under `out/CLUSTER-NAME/` (fleetmd.py); the clusters each covers are named in the summary."""
    return "".join(group.text for group in fleetmd.group(
        [(result.cluster, _cluster_diff(result, out_dir)) for result in report.results]))


def _objects(data: bytes | None) -> dict[ObjectKey, Any]:
    if data is None:
        return {}
    try:
        documents = yamlio.load_all_plain(data.decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - a file that does not parse has no objects to summarise
        return {}
    found = {}
    for doc in documents:
        if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
            meta = doc["metadata"]
            found[(str(doc.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))] = doc
    return found


def summary(report: Report) -> list[str]:
    """Per cluster and stage, the objects a render adds, changes or removes, the changed fields, the rollout;
    the sections that are the same in several clusters once each one's own name is set aside, once
    (fleetmd.py), under a heading that names every cluster they cover."""
    lines = []
    if len(report.results) > 1:
        changed = [result.cluster for result in report.results if result.changes.differs]
        lines += [f"{len(report.results)} clusters, {len(changed)} changed: {fleetmd.names(changed)}", ""]
    first = sorted(report.results, key=lambda result: not result.changes.differs)  # changed clusters first
    for group in fleetmd.group([(result.cluster, "\n".join(_section(result))) for result in first]):
        heading, _, body = group.text.partition("\n")
        if len(group.clusters) > 1:
            counts = heading.split(": ", 1)[1]
            heading = f"### {len(group.clusters)} clusters: {counts} each\n\n{fleetmd.covers(group.clusters)}"
        lines += [heading, *body.split("\n")]
    return lines


def _section(result: ClusterResult) -> list[str]:
    """One cluster's section, its heading first."""
    lines = []
    rows = []
    for path, old, new in _pairs(result):
        before, after = _objects(old), _objects(new)
        for key in sorted(set(before) | set(after)):
            state = "added" if key not in before else "removed" if key not in after else (
                "changed" if before[key] != after[key] else "")
            if state:
                kind, namespace, name = (redact.scrub(text) for text in key)  # escaped after: scrub sees raw text
                rows.append(f"| {code(redact.scrub(path.split('/')[0]))} | {cell(kind)} | {cell(namespace) or '-'} "
                            f"| {cell(name)} | {state} |")
    counts = [len([path for path in paths if path != MANIFEST]) for paths in
              (result.changes.added, result.changes.changed, result.changes.removed)]
    lines.append(f"### `{result.cluster}`: {counts[0]} added, {counts[1]} changed, {counts[2]} removed files")
    reviewed = approvals.section(result)  # what to approve beyond the diff: its own section (approvals.py)
    lines += ["", *reviewed] if reviewed else []
    if rows:
        lines += ["", "| stage | kind | namespace | name | change |", "|---|---|---|---|---|", *rows]
    lines.append("")
    lines += review.fields_section(result, _pairs(result), mask_doc)
    lines += review.rollout_section(result)
    if result.plan:  # what the reviewer approves: the order each delivery takes, and why
        lines += ["<details><summary>Rollout plan (render --plan)</summary>", "",
                  *fence(redact.scrub(result.plan), "text").splitlines(), "</details>", ""]
    return lines


def markdown(report: Report, out_dir: Path) -> str:
    """A PR-comment body, cut into parts that each stay under PART_LIMIT characters."""
    return "\n".join(markdown_parts(report, out_dir))


def markdown_parts(report: Report, out_dir: Path) -> list[str]:
    """The PR-comment body's parts (joined by newlines): the summary's, then the diff's."""
    head = ["## sks-gitops render diff", ""]
    if not report.differs:
        return ["\n".join([*head, "No change: `out/` is current.", ""])]
    overhead = 200
    summary_parts = _cut([line + "\n" for line in [*head, *summary(report)]], PART_LIMIT - overhead)
    diff_parts = _cut(grouped_diff(report, out_dir).splitlines(keepends=True), PART_LIMIT - overhead)
    summary_parts = [part.removesuffix("\n") for part in summary_parts]
    rendered = summary_parts[:1]
    rendered += [f"<!-- sks-gitops summary part {index}/{len(summary_parts)} -->\n{part}"
                 for index, part in enumerate(summary_parts[1:], start=2)]
    total = len(diff_parts)
    for index, part in enumerate(diff_parts, start=1):
        rendered.append(f"<!-- sks-gitops diff part {index}/{total} -->\n{fence(part, 'diff')}")
    return rendered


def _cut(lines: list[str], limit: int) -> list[str]:
    """Group lines into parts of at most `limit` characters; an overlong line is cut and marked."""
    parts: list[str] = []
    current = ""
    marker = " … (line truncated)\n"
    for line in lines:
        if len(line) > limit:
            line = line[: limit - len(marker)] + marker
        if current and len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return parts


def render_report(report: Report, out_dir: Path, diff_format: str) -> str:
    return markdown(report, out_dir) if diff_format == "markdown" else unified(report, out_dir)


_COLORS = (("+++", "\x1b[1m"), ("---", "\x1b[1m"), ("diff ", "\x1b[1m"), ("@@", "\x1b[36m"), ("+", "\x1b[32m"),
           ("-", "\x1b[31m"))
"""Line prefix -> SGR colour, as `git diff` colours: headers bold, hunks cyan, additions green, removals red."""


def colorize(text: str) -> str:
    """A unified diff with ANSI colours (the CLI decides whether the terminal wants them)."""
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        code = next((code for prefix, code in _COLORS if body.startswith(prefix)), "")
        lines.append(f"{code}{body}\x1b[0m{line[len(body):]}" if code else line)
    return "".join(lines)
