"""An ordered index of message ids for :class:`~.store.MemoryStore`: a
heap whose entries are dropped lazily.

Adding and removing an id costs O(log n) and O(1); taking the smallest
costs O(log n) plus the stale entries it passes over, each passed once. An
id's current entry is the one object the index remembers for it, so an
entry left in the heap by an earlier add, or by a removal, is recognised
as stale by identity and skipped.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

#: An entry: the ordering key (a tuple), then the message id.
Entry = tuple[tuple[Any, ...], str]


class HeapIndex:
    """Message ids ordered by a key, smallest first."""

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._current: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._current)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._current

    def add(self, message_id: str, key: tuple[Any, ...]) -> None:
        """Index ``message_id`` under ``key``, replacing its former key."""
        entry = (key, message_id)
        self._current[message_id] = entry
        heapq.heappush(self._heap, entry)
        self._compact()

    def restore(self, entry: Entry) -> None:
        """Put back an entry that :meth:`pop` returned."""
        self._current[entry[1]] = entry
        heapq.heappush(self._heap, entry)

    def discard(self, message_id: str) -> None:
        """Forget ``message_id``; nothing happens if it is not indexed."""
        self._current.pop(message_id, None)

    def first(self) -> Entry | None:
        """Return the smallest entry, leaving it indexed, or ``None``."""
        heap = self._heap
        while heap:
            entry = heap[0]
            if self._current.get(entry[1]) is entry:
                return entry
            heapq.heappop(heap)
        return None

    def pop(self) -> Entry | None:
        """Remove and return the smallest entry, or ``None`` when empty."""
        entry = self.first()
        if entry is not None:
            heapq.heappop(self._heap)
            del self._current[entry[1]]
        return entry

    def pop_until(self, key: tuple[Any, ...], inclusive: bool = True) -> Iterator[str]:
        """Remove and yield, smallest first, the ids whose key is before
        ``key`` (or equal to it, when ``inclusive``)."""
        while (entry := self.first()) is not None and (
            entry[0] < key or (inclusive and entry[0] == key)
        ):
            self.pop()
            yield entry[1]

    def clear(self) -> None:
        self._heap.clear()
        self._current.clear()

    def _compact(self) -> None:
        """Rebuild the heap once stale entries outnumber the live ones, so
        that memory follows the number of indexed ids."""
        if len(self._heap) > 2 * len(self._current) + 64:
            self._heap = list(self._current.values())
            heapq.heapify(self._heap)
