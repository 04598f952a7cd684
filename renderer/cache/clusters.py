"""Skip the clusters of a fleet whose inputs, and whose tree on disk, are exactly as a clean earlier run left them.

The per-cluster sibling of the no-op fast path (noop.py): when one values file of a thousand
changes, only that cluster is loaded, validated, rendered and checked again. A cluster is recorded
only after a run that left it clean (written or up to date, no warnings), with the key of its inputs
(renderer.cache.inputs: the shared ones, --strict, --set, the output directory, its layer and values files,
the remote lock beside them and the installed schema files its check read) and the digest of its
tree (paths, executable bits, contents); it is reused only when both still match and no killed
render left a temporary tree of it behind (the full run recovers those). A cluster of a hub (gitops.hub)
keeps what its hub tree is rendered and checked from (renderer/render/hub.py: Member), so the hub tree of
a fleet whose clusters are all reused is still rendered, checked and compared with the disk on every run:
it is not part of any cluster's record.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer import write
from renderer.cache import directory, inputs, trees
from renderer.render.hub import Member

FORMAT = "sks-gitops cluster record 3"


@dataclass(frozen=True)
class Recorded:
    """What loading, validating, rendering and checking the cluster said last time."""

    cluster: str
    sources: tuple[str, ...]
    name_origin: tuple[str, int, int]
    file_count: int
    kinds: dict[str, int]
    digests: dict[str, str]
    """sha256 of every file of the tree, the owned-files manifest included."""
    remote_urls: tuple[str, ...]
    data_files: tuple[str, ...] = ()
    """The installed schema files checking the tree read (renderer.check.data_files)."""
    hub: Member | None = None
    """In hub mode: what the fleet's hub tree reads from this cluster (renderer/render/hub.py: fleet)."""


def expected_tree(digests: dict[str, str]) -> str:
    """trees.tree_digest of the tree a run rendered (digests of its files), with the modes it writes."""
    return trees.digest_of_files([trees.tree_line(path, write.executable(path), digest)
                                     for path, digest in digests.items()])


class Ledger:
    """Per-cluster records for one run; every lookup misses and nothing is recorded when caching is off."""

    def __init__(self, out_dir: Path, strict: bool, overrides: tuple[str, ...], enabled: bool) -> None:
        self.directory = directory.cache_dir() if enabled else None
        self.out_dir = os.path.abspath(out_dir)
        self.started = time.time_ns()
        self._options = [f"strict={strict}", self.out_dir, *(f"set {item}" for item in overrides)]
        self._start: dict[tuple[str, ...], str] = {}
        self._clean: list[tuple[list[Path], str, Recorded]] = []
        if self.directory is not None:
            try:
                self._inputs = inputs.Inputs()
            except OSError:
                self.directory = None

    def _query(self, paths: list[Path], data_files: tuple[str, ...] = ()) -> inputs.Query:
        names = [str(path) for path in paths]
        return inputs.Query(names, [*self._options, *(os.path.abspath(name) for name in names)], data_files)

    def _slot(self, paths: list[Path]) -> str:
        assert self.directory is not None
        where = "\0".join([os.getcwd(), self.out_dir, *(os.path.abspath(path) for path in paths)])
        return os.path.join(self.directory, "clusters", inputs.digest_parts([where])[:40])

    def lookup(self, paths: list[Path]) -> Recorded | None:
        """The earlier run's findings when its inputs and tree are unchanged; None otherwise (render it)."""
        if self.directory is None:
            return None
        try:
            self._start[tuple(map(str, paths))] = self._inputs.key(self._query(paths))
            descriptor = os.open(self._slot(paths), os.O_RDONLY | os.O_NOFOLLOW)
            with open(descriptor, encoding="utf-8") as handle:
                if not directory.trusted(os.fstat(descriptor)):
                    return None
                record: dict[str, Any] = json.load(handle)
            if record.get("format") != FORMAT:
                return None
            names = {_stored(str(path)): str(path) for path in paths}  # the record keeps them redacted
            file, line, column = record["name_origin"]
            found = Recorded(str(record["cluster"]), tuple(names[source] for source in record["sources"]),
                             (names[file], int(line), int(column)),
                             int(record["file_count"]), dict(record["kinds"]), dict(record["digests"]),
                             tuple(record["remote_urls"]), tuple(map(str, record["data_files"])),
                             None if record["hub"] is None else Member.from_json(record["hub"]))
            if record.get("inputs") != self._inputs.key(self._query(paths, found.data_files)):
                return None
            if not self._tree_matches(found):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return found

    def add(self, paths: list[Path], found: Recorded) -> None:
        """A cluster this run left clean: recorded by flush() once the whole run is over."""
        key = self._start.get(tuple(map(str, paths)))
        if key is not None:
            self._clean.append((paths, key, found))

    def flush(self) -> None:
        """Record the clean clusters whose inputs are as they were when the run started and were not written
        during it (nor just before it: see trees.RACY_NS)."""
        if self.directory is None:
            return
        self._inputs.save()
        if not self._clean:
            return
        try:
            now = inputs.Inputs()
            if now.shared != self._inputs.shared:
                return
            for paths, start, found in self._clean:
                if now.key(self._query(paths)) != start:
                    continue
                key = now.key(self._query(paths, found.data_files))
                if now.newest_ns < self.started - trees.RACY_NS:
                    self._write(paths, key, found)
            now.save()
            directory.prune(os.path.join(self.directory, "clusters"))
        except OSError:
            return  # an optimisation only: an unwritable cache costs the next run time, never correctness

    def _tree_matches(self, found: Recorded) -> bool:
        return trees.locked_tree_digest(os.path.join(self.out_dir, found.cluster)) == expected_tree(found.digests)

    def _write(self, paths: list[Path], key: str, found: Recorded) -> None:
        """`found.digests` are the rendered bytes; lookup() compares them with the disk, so no re-read here."""
        file, line, column = found.name_origin
        stored = {**found.__dict__, "sources": [_stored(source) for source in found.sources],
                  "name_origin": [_stored(file), line, column],
                  "hub": None if found.hub is None else found.hub.to_json()}
        body = json.dumps({"format": FORMAT, "inputs": key, **stored}, sort_keys=True)  # ASCII: \u escapes
        directory.write_private(self._slot(paths), body.encode("ascii"))


def _stored(path: str) -> str:
    """A values file's path as a record keeps it: secret-shaped spans redacted (a file name can hold one, issue 21);
    lookup() maps it back to the paths it was asked about."""
    from renderer.leaks.redact import scrub  # the leak rules load only when a record is read or written

    return scrub(path)
