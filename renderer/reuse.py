"""Skip the clusters of a fleet whose inputs, and whose tree on disk, are exactly as a clean earlier run left them.

The per-cluster sibling of the no-op fast path (fastpath.py): when one values file of a thousand
changes, only that cluster is loaded, validated, rendered and checked again. A cluster is recorded
only after a run that left it clean (written or up to date, no warnings), with the digest of its
inputs (the shared environment, --strict, --set, the output directory, its layer and values files
and the remote lock beside them) and of its tree; it is reused only when both still match.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer import cachedir, fastpath

FORMAT = "sks-gitops cluster record 1"


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


class Ledger:
    """Per-cluster records for one run; every lookup misses and nothing is recorded when caching is off."""

    def __init__(self, out_dir: Path, strict: bool, overrides: tuple[str, ...], enabled: bool) -> None:
        self.directory = cachedir.cache_dir() if enabled else None
        self.out_dir = os.path.abspath(out_dir)
        self.started = time.time_ns()
        self._request = [f"strict={strict}", self.out_dir, *(f"set {item}" for item in overrides)]
        self._keys: dict[tuple[str, ...], str] = {}
        self._clean: list[tuple[list[Path], str, Recorded]] = []
        if self.directory is not None:
            try:
                self._shared, self._newest = fastpath.environment()
            except OSError:
                self.directory = None

    def _key(self, paths: list[Path]) -> str:
        names = [str(path) for path in paths]
        return fastpath.digest_parts([*self._shared, *self._request, *(os.path.abspath(name) for name in names),
                                      *fastpath.values_inputs(names)])

    def _slot(self, paths: list[Path]) -> str:
        assert self.directory is not None
        where = "\0".join([os.getcwd(), self.out_dir, *(os.path.abspath(path) for path in paths)])
        return os.path.join(self.directory, "clusters", fastpath.digest_parts([where])[:40])

    def lookup(self, paths: list[Path]) -> Recorded | None:
        """The earlier run's findings when its inputs and tree are unchanged; None otherwise (render it)."""
        if self.directory is None:
            return None
        try:
            key = self._key(paths)
            self._keys[tuple(map(str, paths))] = key
            descriptor = os.open(self._slot(paths), os.O_RDONLY | os.O_NOFOLLOW)
            with open(descriptor, encoding="utf-8") as handle:
                if not cachedir.trusted(os.fstat(descriptor)):
                    return None
                record: dict[str, Any] = json.load(handle)
            if record.get("format") != FORMAT or record.get("inputs") != key:
                return None
            found = Recorded(str(record["cluster"]), tuple(record["sources"]), tuple(record["name_origin"]),
                             int(record["file_count"]), dict(record["kinds"]), dict(record["digests"]),
                             tuple(record["remote_urls"]))
            if not self._tree_matches(found):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return found

    def add(self, paths: list[Path], found: Recorded) -> None:
        """A cluster this run left clean: recorded by flush() once the whole run is over."""
        key = self._keys.get(tuple(map(str, paths)))
        if key is not None:
            self._clean.append((paths, key, found))

    def flush(self) -> None:
        """Record the clean clusters, unless code changed during the run or may have without a new mtime."""
        if self.directory is None or self._newest >= self.started - fastpath.RACY_NS:
            return
        try:
            if fastpath.environment()[0] != self._shared:
                return
            for paths, key, found in self._clean:
                if self._key(paths) == key:  # its files did not change during the run
                    self._write(paths, key, found)
            if self._clean:
                cachedir.prune(os.path.join(self.directory, "clusters"))
        except OSError:
            return  # an optimisation only: an unwritable cache costs the next run time, never correctness

    def _tree_matches(self, found: Recorded) -> bool:
        expected = fastpath.digest_of_files([f"{path}\0{digest}" for path, digest in found.digests.items()])
        return fastpath.tree_digest(os.path.join(self.out_dir, found.cluster)) == expected

    def _write(self, paths: list[Path], key: str, found: Recorded) -> None:
        """`found.digests` are the rendered bytes; lookup() compares them with the disk, so no re-read here."""
        body = json.dumps({"format": FORMAT, "inputs": key, **found.__dict__}, sort_keys=True)  # ASCII: \u escapes
        cachedir.write_private(self._slot(paths), body.encode("ascii"))
