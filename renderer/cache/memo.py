"""Bounded per-process memo tables for results that are pure functions of their key.

A fleet renders many byte-identical files (kustomizations, health checks, most lines of a
bootstrap script); checking or dumping each once per process is enough. A table is only
sound when its key holds every input the result depends on: callers key by the exact text
or data, never by a digest, and store immutable results only. Entries, the size of one key
and the size of all keys are bounded, so memory stays flat however many clusters a process
renders.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

MAX_ENTRIES = 512
MAX_KEY_CHARS = 65_536
"""Keys larger than this are not remembered (the work is simply done again)."""
MAX_TOTAL_CHARS = 4_000_000
"""About 4 MB of keys per table at most (rendered text is ASCII)."""


class Memo(Generic[V]):
    """A table of immutable results that forgets its oldest entries first.

    First in, first out rather than least recently used: a lookup is one dict access, and an
    entry still in use that was forgotten costs one recomputation before it is back."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_TOTAL_CHARS) -> None:
        self._entries: dict[Hashable, tuple[V, int]] = {}
        self._max_entries, self._max_chars = max_entries, max_chars
        self.chars = 0

    def get(self, key: Hashable) -> V | None:
        found = self._entries.get(key)
        return None if found is None else found[0]

    def put(self, key: Hashable, value: V, size: int) -> V:
        """Remember `value` for a key of `size` characters (unless beyond MAX_KEY_CHARS); return it."""
        if size > MAX_KEY_CHARS or key in self._entries:
            return value
        self._entries[key] = (value, size)
        self.chars += size
        while len(self._entries) > self._max_entries or self.chars > self._max_chars:
            oldest = next(iter(self._entries))
            self.chars -= self._entries.pop(oldest)[1]
        return value

    def clear(self) -> None:
        self._entries.clear()
        self.chars = 0

    def __len__(self) -> int:
        return len(self._entries)
