"""Load stage: read values files, layer them left to right, apply --set overrides.

Layering: mappings merge deeply, lists replace, `null` removes a key. Every key path
remembers the file, line and column where it was last set, so later errors point there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer import hints, yamlio
from renderer.errors import Problem, ValuesError
from renderer.yamlio import Path as KeyPath

MAX_FILE_BYTES = 1_000_000
"""A values file is a few kilobytes; refuse anything that could only be a mistake or an attack."""

Origin = tuple[str, int, int]


@dataclass(frozen=True)
class LocatedValues:
    """Merged values and, for each key path, where it was set."""

    data: dict[str, Any]
    origins: dict[KeyPath, Origin]
    sources: tuple[str, ...]

    def origin(self, path: KeyPath) -> Origin:
        """Where `path` (or its nearest set ancestor) was written; the first file when nowhere."""
        for end in range(len(path), -1, -1):
            found = self.origins.get(path[:end])
            if found:
                return found
        return (self.sources[0] if self.sources else "<values>", 0, 0)

    def value_origin(self, path: KeyPath) -> Origin:
        """Where the value of `path` starts (a wrong value is shown there); else as origin()."""
        return self.origins.get((*path, yamlio.VALUE_AT)) or self.origin(path)


def read_file(path: Path) -> bytes:
    """Read one values file, turning OS errors into located problems."""
    name = str(path)
    try:
        if path.is_dir():
            raise ValuesError(Problem(name, 0, 0, "", "is a directory; expected a YAML values file"))
        if path.exists() and not path.is_file() and str(path) != "/dev/null":
            raise ValuesError(Problem(name, 0, 0, "", "is not a regular file (a FIFO or device?); expected a "
                                                      "YAML values file"))
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ValuesError(Problem(name, 0, 0, "", "file not found", hint=_nearby(path))) from None
    except OSError as exc:
        raise ValuesError(Problem(name, 0, 0, "", f"cannot read: {exc.strerror or exc}")) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ValuesError(Problem(name, 0, 0, "", f"file is larger than {MAX_FILE_BYTES} bytes"))
    return raw


def _nearby(path: Path) -> str:
    """"did you mean ...?" naming the closest existing values file: a typo in the name or in its directory."""
    folder, name = path.parent, path.name
    if not folder.is_dir() and folder.parent.is_dir():
        folders = [entry.name for entry in folder.parent.iterdir() if entry.is_dir()]
        close = hints.closest(folder.name, folders)
        folder = folder.parent / close if close else folder
    if not folder.is_dir():
        return ""
    try:
        stems = {entry.stem: entry.name for entry in sorted(folder.iterdir())[:1000]
                 if entry.suffix in (".yaml", ".yml") and entry.is_file()}
    except OSError:
        return ""
    close = hints.closest(Path(name).stem if Path(name).suffix in (".yaml", ".yml") else name, list(stems))
    return f"did you mean {folder / stems[close]}?" if close else ""


def parse(raw: bytes, name: str) -> yamlio.Document:
    try:
        return yamlio.load_one(raw, name)
    except yamlio.LoadProblem as exc:
        raise ValuesError(exc.problem) from None


def _drop_under(origins: dict[KeyPath, Origin], path: KeyPath) -> None:
    for key in [key for key in origins if key[: len(path)] == path]:
        del origins[key]


def merge(base: dict[str, Any], layer: dict[str, Any], origins: dict[KeyPath, Origin],
          layer_origins: dict[KeyPath, Origin], path: KeyPath = ()) -> dict[str, Any]:
    """Deep-merge `layer` over `base` (pure: returns a new dict; updates `origins` in place)."""
    result = dict(base)
    for key, value in layer.items():
        here = (*path, key)
        if value is None:
            result.pop(key, None)
            _drop_under(origins, here)
            if here in layer_origins:
                origins[here] = layer_origins[here]
            continue
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            if here not in origins and here in layer_origins:
                origins[here] = layer_origins[here]
            result[key] = merge(result[key], value, origins, layer_origins, here)
            continue
        _drop_under(origins, here)
        for sub, origin in layer_origins.items():
            if sub[: len(here)] == here:
                origins[sub] = origin
        result[key] = _without_nulls(value)
    return result


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


def load(paths: list[Path]) -> LocatedValues:
    """Load and layer values files; every file's problems are reported, not just the first."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    problems: list[Problem] = []
    for path in paths:
        name = str(path)
        try:
            document = parse(read_file(path), name)
        except ValuesError as exc:
            problems.extend(exc.problems)
            continue
        layer_origins = {key: (name, line, column) for key, (line, column) in document.positions.items()}
        origins.setdefault((), layer_origins[()])
        data = merge(data, document.data, origins, layer_origins)
    if problems:
        raise ValuesError(problems)
    return LocatedValues(data=data, origins=origins, sources=tuple(str(path) for path in paths))
