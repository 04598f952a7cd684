"""Bounded per-process memo tables for results that are pure functions of their key.

A fleet renders many byte-identical files (kustomizations, health checks); checking or
dumping each once per process is enough. A table is only sound when its key holds every
input the result depends on: callers key by the exact text or data, never by a digest,
and store immutable results only. Both the entry count and the key size are bounded, so
memory stays flat however many clusters a process renders.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_ENTRIES = 512
MAX_KEY_CHARS = 65_536
"""Keys larger than this are not remembered (the work is simply done again)."""


class Memo(Generic[V]):
    """A least-recently-used table of immutable results."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: Hashable, value: V, size: int) -> V:
        """Remember `value` unless its key is `size` characters beyond MAX_KEY_CHARS; return it."""
        if size <= MAX_KEY_CHARS:
            self._entries[key] = value
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)
