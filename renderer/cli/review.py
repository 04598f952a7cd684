"""What a reviewer reads in the PR markdown beside the diff: each changed field, old and new, and the rollout graph.

A changed file is compared object by object (kind, namespace, name; a file's own Kustomization by its
file), field path by field path, so a Helm value in a kustomization's `valuesInline` or a HelmRelease
reads as `helmCharts[0].valuesInline.defaultSettings.defaultReplicaCount: 2 -> 3`, not "changed".
bootstrap.sh is compared by its settings (`readonly NAME=...`) and its step functions; a JSON object in
a step (the Helm values the bootstrap installs with) is compared field by field too. Secrets are masked
as in the diff (diff.mask_doc, handed in) and every cell passes the secret scan (redact.scrub).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from renderer import yamlio
from renderer.cli import fleetmd
from renderer.cli.mdsafe import fence, span
from renderer.leaks import redact
from renderer.pipeline import ClusterResult, Report

MAX_ROWS = 300
"""Per cluster; the unified diff below the table holds the rest."""
MAX_CELL = 120
ABSENT = "—"

Mask = Callable[[Any], Any]
"""A document with its secret values replaced (diff.mask_doc), passed in: diff.py imports this module."""


@dataclass(frozen=True)
class FieldChange:
    file: str
    """The file inside the cluster's tree."""
    owner: str
    """The object (`Kind namespace/name`), or the bootstrap's `settings` / `function NAME`."""
    field: str
    old: str
    new: str


def _child(path: str, key: Any) -> str:
    """`path.key`, or `path["odd.key"]` for a key that is not a plain word (a label such as app.kubernetes.io/name)."""
    text = str(key)
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return f"{path}.{text}" if path else text
    return f"{path}[{json.dumps(text)}]"


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves by field path (`spec.values.a[0]`); an empty mapping or list is a leaf too."""
    found: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for key, item in value.items():
            found.update(flatten(item, _child(path, key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            found.update(flatten(item, f"{path}[{index}]"))
    else:
        found[path] = value
    return found


def shown(value: Any) -> str:
    """A leaf as one short line: strings as written, other scalars as JSON, long text summarised."""
    if isinstance(value, str):
        if "\n" in value.rstrip("\n"):
            return f"(text, {len(value.splitlines())} lines: see the diff)"
        text = value
    else:
        text = json.dumps(value, sort_keys=True)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _field_rows(file: str, owner: str, old: dict[str, Any], new: dict[str, Any],
                masked: tuple[dict[str, Any], dict[str, Any]] | None = None) -> Iterator[FieldChange]:
    """A row per leaf that differs; `masked` (the same leaves as they may be shown) gives the printed values, so a
    changed Secret value reads `<masked>` -> `<masked>`: changed, never shown."""
    old_shown, new_shown = masked or (old, new)
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path, ABSENT), new.get(path, ABSENT)
        if before != after or type(before) is not type(after):
            yield FieldChange(file, owner, path or "(whole value)",
                              shown(old_shown.get(path, ABSENT)) if path in old else ABSENT,
                              shown(new_shown.get(path, ABSENT)) if path in new else ABSENT)


def _objects(data: bytes | None) -> dict[str, Any]:
    """The documents of a file by `Kind namespace/name` (a kustomization.yaml by its kind alone)."""
    if data is None:
        return {}
    try:
        documents = yamlio.load_all_plain(data.decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - a file that does not parse has no fields to compare (the diff shows it)
        return {}
    found = {}
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        meta = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
        where = "/".join(str(part) for part in (meta.get("namespace"), meta.get("name")) if part)
        found[f"{doc.get('kind', 'document')} {where}".strip()] = doc
    return found


def yaml_changes(file: str, old: bytes | None, new: bytes | None, mask_doc: Mask) -> list[FieldChange]:
    """Field changes of the objects present before and after (added or removed objects are in the table);
    `mask_doc` is the diff's masking rule (diff.mask_doc)."""
    before, after = _objects(old), _objects(new)
    rows: list[FieldChange] = []
    for owner in sorted(set(before) & set(after)):
        masked = (flatten(mask_doc(before[owner])), flatten(mask_doc(after[owner])))
        rows += _field_rows(file, owner, flatten(before[owner]), flatten(after[owner]), masked)
    return rows


_SETTING = re.compile(r"^readonly ([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_FUNCTION = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(\) \{$")
_JSON = re.compile(r"'(\{.*\})'")


def script_parts(text: str) -> dict[str, list[str]]:
    """bootstrap.sh as `setting NAME` -> its value lines (an array's items) and `function NAME` -> its body lines
    (the steps are functions: `stage_01_longhorn`, `step_nodepool`)."""
    parts: dict[str, list[str]] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        setting, function = _SETTING.match(line), _FUNCTION.match(line)
        end = ")" if setting and setting.group(2) == "(" else "}" if function else ""
        if end:
            start = index + 1
            while index < len(lines) and lines[index] != end:
                index += 1
            name = f"setting {setting.group(1)}" if setting else f"function {function.group(1)}" if function else ""
            parts[name] = [entry.strip() for entry in lines[start:index]]
        elif setting:
            parts[f"setting {setting.group(1)}"] = [setting.group(2)]
        index += 1
    return parts


def _line_changes(old: list[str], new: list[str], item: str) -> Iterator[tuple[str, str, str]]:
    """(where, old, new) per changed line of a setting or step; a changed JSON object (the Helm values a step
    installs with) field by field, as `helm values.PATH`."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = old[old_start:old_end], new[new_start:new_end]
        for offset in range(max(len(removed), len(added))):
            before = removed[offset] if offset < len(removed) else None
            after = added[offset] if offset < len(added) else None
            objects = [_json_object(line) for line in (before, after)]
            if objects[0] is not None and objects[1] is not None:
                for row in _field_rows("", "", flatten(objects[0], "helm values"), flatten(objects[1], "helm values")):
                    yield row.field, row.old, row.new
                continue
            index = new_start + offset if after is not None else old_start + offset
            yield (item.format(index=index, line=index + 1), ABSENT if before is None else shown(before),
                   ABSENT if after is None else shown(after))


def _json_object(line: str | None) -> dict[str, Any] | None:
    found = _JSON.search(line or "")
    if not found:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def script_changes(file: str, old: bytes | None, new: bytes | None) -> list[FieldChange]:
    """Changed settings (`readonly NAME=...`, arrays line by line) and step functions of a bootstrap script."""
    if old is None or new is None:
        return []
    before, after = (script_parts(data.decode("utf-8", "replace")) for data in (old, new))
    rows: list[FieldChange] = []
    for name in sorted(set(before) | set(after), key=lambda name: (name.startswith("function"), name)):
        if before.get(name) == after.get(name):
            continue
        kind, _, what = name.partition(" ")
        old_lines, new_lines = before.get(name, []), after.get(name, [])
        single = len(old_lines) <= 1 and len(new_lines) <= 1
        item = "{line}" if kind == "function" else what if single else what + "[{index}]"
        for where, old_text, new_text in _line_changes(old_lines, new_lines, item):
            if kind == "setting":
                rows.append(FieldChange(file, "settings", where, old_text, new_text))
            else:
                field = where if where.startswith("helm") else f"line {where} of the body"
                rows.append(FieldChange(file, f"function {what}", field, old_text, new_text))
    return rows


def changes(result: ClusterResult, pairs: list[tuple[str, bytes | None, bytes | None]], mask_doc: Mask
            ) -> list[FieldChange]:
    """Every field change of one cluster's changed files (`pairs`: path, old bytes, new bytes)."""
    rows: list[FieldChange] = []
    for path, old, new in pairs:
        if old is None or new is None:
            continue
        if path.endswith((".yaml", ".yml")):
            rows += yaml_changes(path, old, new, mask_doc)
        elif path.endswith(".sh"):
            rows += script_changes(path, old, new)
    return rows


def cell(text: str) -> str:
    """A markdown table cell holding `text` as code: pipes escaped (GFM), a backtick fence longer than any run."""
    text = redact.scrub(text)
    return text if text == ABSENT else span(text)


def fields_section(result: ClusterResult, pairs: list[tuple[str, bytes | None, bytes | None]], mask_doc: Mask
                   ) -> list[str]:
    """`#### Changed fields` with one table row per changed field, or nothing when no field changed."""
    rows = changes(result, pairs, mask_doc)
    return ["#### Changed fields", "", *fields_section_rows(rows), ""] if rows else []


def fields_section_rows(rows: list[FieldChange]) -> list[str]:
    """The table: a header, then one line per change (at most MAX_ROWS)."""
    lines = ["| file | object | field | old | new |", "|---|---|---|---|---|"]
    for row in rows[:MAX_ROWS]:
        owner = redact.scrub(row.owner).replace("|", "\\|")
        lines.append(f"| {cell(row.file)} | {owner} | {cell(row.field)} | {cell(row.old)} | {cell(row.new)} |")
    if len(rows) > MAX_ROWS:
        lines += ["", f"… and {len(rows) - MAX_ROWS} more changed fields: see the diff below."]
    return lines


def rollout_section(result: ClusterResult) -> list[str]:
    """The rollout graph (GitHub draws ```mermaid blocks); the text plan follows it (diff.summary)."""
    if not result.graph:
        return []
    return ["#### Rollout", "", *fence(result.graph, "mermaid").splitlines(), ""]


def plan_markdown(report: Report) -> str:
    """`render --plan --format markdown`: per cluster the graph, then the text plan; plans that are the same in
    several clusters once each one's own name is set aside, once, naming every cluster (fleetmd.py)."""
    return "\n".join(plan_parts(report))


def plan_parts(report: Report) -> list[str]:
    """plan_markdown's blocks, one per group of clusters (where a comment may be cut)."""
    blocks = [(result.cluster, "\n".join([*rollout_section(result),
                                          *fence(redact.scrub(result.plan), "text").splitlines()]))
              for result in report.results]
    parts = []
    for group in fleetmd.group(blocks):
        if len(group.clusters) == 1:
            head = [f"## Rollout plan for `{group.clusters[0]}`", ""]
        else:
            head = [f"## Rollout plan for {len(group.clusters)} clusters", "", fleetmd.covers(group.clusters), ""]
        parts.append("\n".join([*head, group.text, ""]))
    return parts
