"""``MemoryQueue``: messages in a dict of this process, for tests and
demonstrations.

The class, its writes, the housekeeping (promotion of due messages, purge
of expired ones) and results; claims and outcomes are in :mod:`.leases`,
inspection in :mod:`.inspection`, the expiry of messages not started by
their deadline in :mod:`.expiry`, consumers, statistics and ticks in
:mod:`.monitoring`, the storage itself in :mod:`.store`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core import checks

from ...envelope.message import Message
from ...states import FINISHED_STATES, State
from ..base import BaseQueue
from ..expiry import Expiry
from ..inspection import Inspection
from ..pausing import Pausing
from ..presence import ConsumerPresence
from ..progress import ProgressReports
from ..statistics import RunStatistics
from ..ticks import PeriodicTicks
from ..unique import UniqueKeys
from .expiry import MemoryExpiry
from .inspection import MemoryInspection
from .leases import MemoryLeases
from .monitoring import MemoryMonitoring
from .part import copied
from .store import store_for, stores_on


class MemoryQueue(
    MemoryLeases,
    MemoryInspection,
    MemoryMonitoring,
    MemoryExpiry,
    Inspection,
    Pausing,
    ProgressReports,
    ConsumerPresence,
    RunStatistics,
    PeriodicTicks,
    UniqueKeys,
    Expiry,
    BaseQueue,
):
    """A queue kept in the memory of this process.

    Every queue of one name and ``CONNECTION`` (any text, ``""`` by
    default: a namespace, not a server) built in this process shares its
    messages, as queues on one storage do; a lock makes each call one
    atomic step for the threads of a consumer. Nothing is kept across a
    restart, and no other process sees the messages: a ``run_queue`` started
    apart from the process that enqueues never runs them. It is meant for
    tests (with :func:`djqueue.testing.run_enqueued`), demonstrations and
    a consumer run inside the process that enqueues.
    """

    # Whether claim(timeout=...) waits: for the threads of this process.
    supports_blocking_claim = True
    # Whether wait_for_messages() returns when a thread here makes one ready.
    supports_wakeup = True
    supports_lock_keys = True
    supports_suspects = True
    # Its messages are in this process's memory alone.
    shared_between_processes = False

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        super().__init__(name, connection, **options)
        self.store = store_for(str(connection or ""), name)

    @classmethod
    def check_config(
        cls, name: str, connection: Any, options: dict[str, Any]
    ) -> list[checks.CheckMessage]:
        """Refuse a ``CONNECTION`` that is not a text (``djqueue.E050``) and,
        when ``DEBUG`` is off, warn that no other process sees the queue
        (``djqueue.W050``)."""
        from django.conf import settings

        errors = super().check_config(name, connection, options)
        if not isinstance(connection, str):
            errors.append(
                checks.Error(
                    f"Queue {name!r} has CONNECTION = {connection!r}; a "
                    "MemoryQueue's CONNECTION is a text naming the messages "
                    "it shares with the queues of its name.",
                    hint="Set CONNECTION to a string, or leave it out.",
                    id="djqueue.E050",
                )
            )
        if not settings.DEBUG:
            errors.append(
                checks.Warning(
                    f"Queue {name!r} is a MemoryQueue: its messages live in "
                    "the process that enqueued them, so a run_queue started "
                    "apart never runs them, and a restart loses them.",
                    hint="Use DatabaseQueue or RedisQueue for this queue "
                    "outside tests; if only this process's own threads "
                    "consume it, add 'djqueue.W050' to "
                    "SILENCED_SYSTEM_CHECKS.",
                    id="djqueue.W050",
                )
            )
        return errors

    # -- Writing -------------------------------------------------------------

    def write(self, message: Message) -> None:
        self.write_many((message,))

    def write_many(self, messages: Sequence[Message]) -> None:
        """Store every message in one step of the lock."""
        now = self.now()
        with self.store.lock:
            for message in messages:
                self.store.write(message, self.name, now)

    def write_unique(self, message: Message) -> str:
        with self.store.lock:
            holder = self.store.unique_holder(message.unique_key)
            if holder:
                return holder
            self.store.write(message, self.name, self.now())
            return message.id

    def flush(self) -> None:
        with self.store.lock:
            self.store.clear()

    def __len__(self) -> int:
        with self.store.lock:
            return len(self.store.states[State.QUEUED])

    # -- Housekeeping --------------------------------------------------------

    def promote_due(self, now: datetime | None = None) -> int:
        store = self.store
        with store.lock:
            due = list(store.scheduled.pop_until((now or self.now(),)))
            for message_id in due:
                store.place(store.messages[message_id], State.QUEUED)
        return len(due)

    def purge_expired(self, now: datetime | None = None) -> int:
        now = now or self.now()
        store = self.store
        with store.lock:
            ended = list(store.expiry.pop_until((now,), inclusive=False))
            for message_id in ended:
                store.remove(message_id)
            self._forget_dead_consumers(now)
            self._forget_old_statistics(now)
        return len(ended)

    # -- Results -------------------------------------------------------------

    def get(self, message_id: str) -> Message | None:
        with self.store.lock:
            stored = self.store.messages.get(message_id)
            return None if stored is None else copied(stored)

    def locate(self, message_id: str) -> str | None:
        """Look in every queue of this connection, as queues on one
        storage can."""
        for name, store in stores_on(str(self.connection or "")).items():
            with store.lock:
                if message_id in store.messages:
                    return name
        return None

    def wait(self, message_id: str, timeout: float | None) -> Message | None:
        """Wait on the store for the message to finish: a thread of this
        process finishing it wakes the waiter at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        store = self.store
        with store.lock:
            while True:
                stored = store.messages.get(message_id)
                if stored is None or stored.state in FINISHED_STATES:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                store.changed.wait(remaining)
            return None if stored is None else copied(stored)
