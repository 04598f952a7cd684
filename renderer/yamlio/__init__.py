"""The one YAML factory: strict loading with source positions here, deterministic output in output.py.

Semantics are decided here on purpose: duplicate keys, several documents, tabs in
indentation, invalid UTF-8 and runaway alias expansion are errors; strings that a
YAML 1.1 reader would take for a bool, null, number or date are always written quoted.
Values files and `--set` flow values are read by the same loader, as YAML 1.2: no
timestamps (`2024-01-01` is a string), no `%YAML 1.1` directive, no tags beyond the core ones.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning, YAMLError
from ruamel.yaml.events import (
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from renderer import hints
from renderer.errors import Problem
from renderer.yamlio import dialect, limits
from renderer.yamlio.output import dump, load_all_plain, parse_output, scalar

Path = tuple[str | int, ...]
Positions = dict[Path, tuple[int, int]]

MAX_DEPTH = 64
"""Values files are four levels deep; anything past this is a mistake or an attack."""

MAX_NODES = 100_000
"""Expanded node budget: far above any real values file, far below a 'billion laughs'."""

VALUE_AT = -1
"""Positions key `(*path, VALUE_AT)`: where the value of the mapping key `path` starts (no real index is negative)."""



@dataclass(frozen=True)
class Document:
    """Plain data of one YAML document and where each key path was written."""

    data: Any
    positions: Positions


def _problem(filename: str, line: int, column: int, message: str, key_path: str = "") -> Problem:
    return Problem(file=filename, line=line, column=column, key_path=key_path, message=message)


def _decode(raw: bytes, filename: str) -> str:
    wide = hints.wide_encoding(raw)
    if wide:
        raise _YamlProblem(Problem(filename, 1, 1, "", f"file is encoded as {wide}; values files are UTF-8",
                                   hint=hints.save_as_utf8(wide, filename)))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _YamlProblem(Problem(filename, line, column, "", f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})",
                                   hint=hints.invalid_byte(raw[exc.start]))) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


class _YamlProblem(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(problem.format())


def _check_tabs(text: str, filename: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip() and not line.lstrip(" \t").startswith("#"):
            column = indent.index("\t") + 1
            raise _YamlProblem(_problem(filename, number, column, "tab used for indentation; YAML indents with spaces"))


_TOO_DEEP = f"document is nested more than {MAX_DEPTH} levels deep"


class _TooMany(Exception):
    """The copy of the document passed MAX_NODES nodes (at line, column)."""


class _TooDeep(Exception):
    """The guarded parser saw more than MAX_DEPTH open collections."""


class _Directive(Exception):
    """A `%YAML` directive for another version than 1.2."""


class _DepthGuardParser(RoundTripParser):
    """Counts nesting as the composer consumes events, so the composer never recurses past MAX_DEPTH;
    refuses a `%YAML` directive other than 1.2 (ruamel would switch to YAML 1.1: `030` would read 24)."""

    depth = 0

    def get_event(self) -> Any:
        event = super().get_event()
        if isinstance(event, DocumentStartEvent) and event.version not in (None, (1, 2)):
            raise _Directive(".".join(map(str, event.version)))
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _TooDeep
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            self.depth -= 1
        return event


def _loader(guarded: bool = False) -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Resolver = dialect.CoreResolver
    yaml.Constructor = dialect.CoreConstructor
    if guarded:
        yaml.Parser = _DepthGuardParser
    return yaml


def _plain(node: Any, filename: str, path: Path, positions: Positions, budget: list[int]) -> Any:
    """Copy ruamel nodes into plain dict/list/scalars, recording positions; bound alias expansion."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooMany(*positions.get(path, (1, 1)))
    _check_tag(node, filename, path, positions)
    if isinstance(node, CommentedMap) and type(node) is not CommentedMap:  # !!omap: ordered pairs, not core
        line, column = _value_position(path, positions)
        raise _YamlProblem(_problem(filename, line, column, "unsupported YAML tag !!omap", _dotted(path)))
    if isinstance(node, CommentedMap):
        if getattr(node, "merge", None):
            line, column = positions.get(path, (1, 1))
            raise _YamlProblem(_problem(filename, line, column, "merge keys (<<) are not supported; write the keys out",
                                        _dotted(path)))
        result: dict[str, Any] = {}
        for key in node:
            if not isinstance(key, str):
                line, column = node.lc.key(key) or (p - 1 for p in positions.get(path, (1, 1)))
                raise _YamlProblem(
                    _problem(filename, line + 1, column + 1, f"key {key!r} must be a string", _dotted(path))
                )
            key_line, key_column = node.lc.key(key) or (p - 1 for p in positions.get(path, (1, 1)))
            positions[(*path, key)] = (key_line + 1, key_column + 1)
            value_line, value_column = node.lc.value(key) or (key_line, key_column)
            positions[(*path, key, VALUE_AT)] = (value_line + 1, value_column + 1)
            result[key] = _plain(node[key], filename, (*path, key), positions, budget)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, item in enumerate(node):
            line, column = node.lc.item(index) or (p - 1 for p in positions.get(path, (1, 1)))
            positions[(*path, index)] = (line + 1, column + 1)
            items.append(_plain(item, filename, (*path, index), positions, budget))
        return items
    if node is None:
        return None
    if isinstance(node, (bool, ScalarBoolean)):
        return bool(node)  # ruamel's anchored booleans are ints; anchors must not reach the output
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, TaggedScalar) and _tag_of(node) == "tag:yaml.org,2002:str":
        return str(node.value)
    line, column = _value_position(path, positions)
    raise _YamlProblem(
        _problem(filename, line, column, f"unsupported YAML value of type {type(node).__name__}", _dotted(path))
    )


def _value_position(path: Path, positions: Positions) -> tuple[int, int]:
    """Where the value at `path` starts (its key's position for a list item or the root)."""
    return positions.get((*path, VALUE_AT)) or positions.get(path, (1, 1))


_CORE_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")}


def _tag_of(node: Any) -> str:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", tag)
    return value if isinstance(value, str) else ""


def _check_tag(node: Any, filename: str, path: Path, positions: Positions) -> None:
    """Only YAML's own tags are understood; an application tag (!vault, !custom) is an error, not ignored."""
    tag = _tag_of(node)
    if tag and tag not in _CORE_TAGS:
        line, column = _value_position(path, positions)
        shown = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
        raise _YamlProblem(_problem(filename, line, column, f"unsupported YAML tag {shown}", _dotted(path)))


def _check_depth(text: str, filename: str) -> None:
    """Refuse deep nesting from parser events, before the composer recurses (fast even on 1 MB of '[').

    Only run when the guarded load fails: a load that succeeds consumed this same event stream
    within MAX_DEPTH. On failure it runs first, so a too-deep document reports its depth at the
    first offending event whatever else is wrong with it."""
    depth = 0
    try:
        for event in _loader().parse(text):
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise _YamlProblem(_problem(filename, mark.line + 1, mark.column + 1, _TOO_DEEP))
            elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
                depth -= 1
    except (YAMLError, RecursionError, ValueError, AssertionError, AttributeError, IndexError, KeyError, TypeError):
        return  # the real load below reports the syntax error with its location


_TOKEN_START = frozenset(" \t\n[{,:-?")


def _prescan_flow_depth(text: str, filename: str) -> None:
    """Refuse flow nesting far deeper than MAX_DEPTH from the raw text, before ruamel's scanner sees it.

    The scanner keeps a possible simple key per open flow level and re-checks them all on every
    token, so `[[[[...` costs quadratic time before any parser event reaches the depth guard.
    Brackets count only where a flow collection can start (anywhere inside flow context, at a
    token start outside it); quoted scalars and comments are skipped. A bracket this misreads
    only makes the count smaller: the event-level guard still applies."""
    depth = 0
    previous = "\n"
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in "'\"" and previous in _TOKEN_START:
            end = text.find(char, index + 1)
            while char == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(char, end + 1)
            index = length if end < 0 else end + 1
            previous = char
            continue
        if char == "#" and previous in " \t\n":
            end = text.find("\n", index)
            index = length if end < 0 else end
            continue
        if char in "[{" and (depth or previous in _TOKEN_START):
            depth += 1
            if depth > 2 * MAX_DEPTH:
                # Bounded now: let the event-level guard name the first too-deep collection, as it
                # would for a shallower document (block nesting counts there too).
                _check_depth(text[:index], filename)
                line = text.count("\n", 0, index) + 1
                column = index - (text.rfind("\n", 0, index) + 1) + 1
                raise _YamlProblem(_problem(filename, line, column, _TOO_DEEP))
        elif char in "]}" and depth:
            depth -= 1
        previous = char
        index += 1


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


dotted = _dotted


def _load_documents(text: str, filename: str) -> list[Any]:
    """Every document of `text`, parsed once with the depth guarded (see _check_depth)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ReusedAnchorWarning)
            return list(_loader(guarded=True).load_all(text))
    except Exception:
        _check_depth(text, filename)
        raise


def _documents(text: str, filename: str) -> list[Any]:
    """Every document of `text` by the one set of loading rules (files and `--set` alike), errors located."""
    _check_tabs(text, filename)
    too_many = limits.too_many_entries(text)
    if too_many:
        raise _YamlProblem(_problem(filename, 1, 1, too_many))
    _prescan_flow_depth(text, filename)
    try:
        documents = _load_documents(text, filename)
    except _TooDeep:
        raise _YamlProblem(_problem(filename, 1, 1, _TOO_DEEP)) from None
    except _Directive as exc:
        directive = re.search(r"^%YAML", text, re.MULTILINE)
        line = text.count("\n", 0, directive.start()) + 1 if directive else 1
        raise _YamlProblem(_problem(filename, line, 1, f"%YAML {exc.args[0]} directive: values are read as "
                                    "YAML 1.2 only (README \"Loading rules\"); remove the directive")) from None
    except ReusedAnchorWarning as exc:
        found = re.findall(r"line (\d+), column (\d+)", str(exc))
        anchor = re.search(r"duplicate anchor '([^']*)'", str(exc))
        line, column = (int(found[-1][0]), int(found[-1][1])) if found else (1, 1)
        name = anchor.group(1) if anchor else "?"
        raise _YamlProblem(_problem(filename, line, column,
                                    f"duplicate anchor {name!r}; each anchor may be defined once")) from None
    except ReaderError as exc:
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        message = f"unacceptable character #x{code:04x}: special characters are not allowed"
        raise _YamlProblem(_problem(filename, line, column, message)) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        message = message.split("\n")[0] or "invalid YAML"
        if "duplicate key" in message and '"' in str(exc.problem):
            key = str(exc.problem).split('"')[1]
            message = f"duplicate key {key!r}; each key may appear once in a mapping"
        lines = text.splitlines()
        source = lines[line - 1] if 0 < line <= len(lines) else ""
        hint = ""
        if source[column - 1: column] == "\t":  # ruamel: "found character '\t' that cannot start any token"
            message, hint = hints.tab_separator(source, column)
            lines = [entry.replace("\t", " ") for entry in lines]  # so the key on this line is found
        reading = str(exc.context or "")  # inside a scalar or flow collection: its start names the key
        inside = exc.context_mark if ("scanning" in reading and not hint) or "flow" in reading else mark
        key_path = hints.key_path_at(lines, inside.line if inside else line - 1)
        raise _YamlProblem(Problem(filename, line, column, key_path, message, hint=hint, source=source)) from None
    except (YAMLError, ValueError) as exc:
        raise _YamlProblem(_problem(filename, 1, 1, f"invalid YAML: {str(exc).splitlines()[0]}")) from None
    except RecursionError:
        raise _YamlProblem(_problem(filename, 1, 1, "document is nested too deeply")) from None
    except (AssertionError, AttributeError, IndexError, KeyError, TypeError) as exc:
        # ruamel.yaml has internal asserts that some malformed inputs reach.
        message = f"invalid YAML: the parser failed ({type(exc).__name__})"
        raise _YamlProblem(_problem(filename, 1, 1, message)) from None
    return documents


def load_one(raw: bytes, filename: str) -> Document:
    """Load exactly one YAML document from bytes; raise ValuesError-ready problems otherwise."""
    try:
        text = _decode(raw, filename)
        documents = _documents(text, filename)
        if not documents or (len(documents) == 1 and documents[0] is None):
            raise _YamlProblem(_problem(filename, 1, 1, "file is empty; expected a mapping of values"))
        if len(documents) > 1:
            raise _YamlProblem(_problem(filename, 1, 1, f"file holds {len(documents)} YAML documents; expected one"))
        root = documents[0]
        if not isinstance(root, CommentedMap):
            kind = "a list" if isinstance(root, CommentedSeq) else "a scalar"
            raise _YamlProblem(_problem(filename, 1, 1, f"top level is {kind}; expected a mapping of values"))
        positions: Positions = {(): (1, 1)}
        try:
            data = _plain(root, filename, (), positions, [MAX_NODES])
        except _TooMany as exc:
            line, column = exc.args
            why = " through aliases (alias bomb?)" if limits.has_anchors(text) else f" (the limit is {MAX_NODES})"
            raise _YamlProblem(_problem(filename, line, column,
                                        f"document expands to more than {MAX_NODES} nodes{why}")) from None
        except RecursionError:
            raise _YamlProblem(_problem(filename, 1, 1, "document is nested too deeply")) from None
        return Document(data=data, positions=positions)
    except _YamlProblem as exc:
        raise LoadProblem(exc.problem) from None


def load_flow(text: str, filename: str) -> Any:
    """One `--set` value (a YAML flow list or mapping) as plain data, by the same rules as a values file:
    a merge key, a non-core tag or a timestamp reads as it would there."""
    try:
        documents = _documents(text, filename)
        if len(documents) != 1:
            raise _YamlProblem(_problem(filename, 1, 1, f"holds {len(documents)} YAML documents; expected one"))
        try:
            return _plain(documents[0], filename, (), {(): (1, 1)}, [MAX_NODES])
        except _TooMany as exc:
            line, column = exc.args
            raise _YamlProblem(_problem(filename, line, column, f"expands to more than {MAX_NODES} nodes")) from None
        except RecursionError:
            raise _YamlProblem(_problem(filename, 1, 1, "document is nested too deeply")) from None
    except _YamlProblem as exc:
        raise LoadProblem(exc.problem) from None


class LoadProblem(Exception):
    """A single located loading problem; renderer/load wraps it into ValuesError."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__(problem.format())


__all__ = ["MAX_DEPTH", "MAX_NODES", "Document", "LoadProblem", "dotted", "dump", "load_all_plain", "load_flow",
           "load_one",
           "parse_output", "scalar"]
