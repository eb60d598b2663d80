"""The messages a consumer holds: leased to it and not yet finished."""

from __future__ import annotations

import threading
from collections import defaultdict

from ..backends.base import BaseQueue
from ..envelope.message import Message


class InFlight:
    """Leased messages by id, each with its queue; safe from every thread.

    A message stays here from its claim until its outcome is stored, so the
    heartbeat renews its lease and a stop releases it. An id holds one run:
    a retry claimed again before the worker that recorded it let go has the
    same id, and :meth:`finish` leaves that new run in place.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[BaseQueue, Message]] = {}

    def add(self, queue: BaseQueue, message: Message) -> None:
        with self._lock:
            self._entries[message.id] = (queue, message)

    def finish(self, message: Message) -> None:
        """Forget this run of ``message``, and only this run."""
        with self._lock:
            entry = self._entries.get(message.id)
            if entry is not None and entry[1] is message:
                del self._entries[message.id]

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def messages(self) -> list[Message]:
        """The messages held now, in no particular order."""
        with self._lock:
            return [message for _, message in self._entries.values()]

    def by_queue(self) -> dict[BaseQueue, list[Message]]:
        grouped: dict[BaseQueue, list[Message]] = defaultdict(list)
        with self._lock:
            for queue, message in self._entries.values():
                grouped[queue].append(message)
        return grouped
