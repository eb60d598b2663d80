"""Where the messages of a :class:`~djqueue.backends.memory.MemoryQueue`
live: one :class:`MemoryStore` per queue name and connection, in this
process.

A store keeps each message once, in a dict by id, and indexes it by its
state: the ready messages by priority, eta and id (suspect ones apart, by
eta), the scheduled ones by eta, the running ones by lease expiry, the
finished ones by the end of their retention, every queued one by eta
alone, for the age of the longest wait, and those never claimed by their
deadline (see :mod:`.index`). Every
change of state goes through :meth:`MemoryStore.place`, which keeps the
indexes, the lock keys and the unique keys in step. The store's ``lock``
is held by every call of a queue on it, so each call is one atomic step
for the threads of this process.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any

from ...envelope.message import Message
from ...states import FINISHED_STATES, PENDING_STATES, State
from ..expiry import expired_reason
from ..pausing import Pause
from ..records import ConsumerInfo
from .index import HeapIndex
from .part import copied

#: The states of a message that has not started yet.
_WAITING = frozenset({State.QUEUED, State.SCHEDULED})

#: The most wake-up notices a store keeps for waiting consumers.
MAX_NOTICES = 100


class MemoryStore:
    """The messages, consumers, statistics and ticks of one queue."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: Notified when a message may have become ready or has finished.
        self.changed = threading.Condition(self.lock)
        self.clear()

    def clear(self) -> None:
        """Forget everything stored (the lock and waiters stay)."""
        self.messages: dict[str, Message] = {}
        self.states: dict[State, dict[str, Message]] = {state: {} for state in State}
        self.ready = HeapIndex()
        self.suspects = HeapIndex()
        self.scheduled = HeapIndex()
        self.running = HeapIndex()
        self.expiry = HeapIndex()
        #: Every queued message, suspect or not, by eta alone.
        self.waiting = HeapIndex()
        #: The queued and scheduled messages never claimed that have a
        #: deadline, by it.
        self.deadlines = HeapIndex()
        #: The ids of the messages the claims expired, for expire_due.
        self.expired_news: list[str] = []
        #: Lock key -> the id of the running message that holds it.
        self.locks: dict[str, str] = {}
        #: Unique key -> the id of the pending message that holds it.
        self.unique: dict[str, str] = {}
        #: Wake-ups owed to waiting consumers, one per message made ready.
        self.notices = 0
        self.ticks: dict[str, datetime] = {}
        #: The queue's pause, while it is paused.
        self.pause: Pause | None = None
        #: Consumer id -> its details and the moment it stops counting as alive.
        self.consumers: dict[str, tuple[ConsumerInfo, datetime]] = {}
        #: Start of a minute -> runs finished in it, by command and outcome.
        self.minutes: dict[datetime, Counter[tuple[str, State]]] = {}
        self.totals: Counter[tuple[str, State]] = Counter()
        self.seconds: dict[str, float] = {}

    # -- Changes, called with the lock held ------------------------------------

    def write(self, message: Message, queue: str, now: datetime) -> None:
        """Store a copy of a new ``message`` of the queue ``queue``,
        scheduled if its eta is after ``now``, else queued, setting the
        message's ``queue`` and ``state`` to match; it takes its unique key
        if no pending message holds it."""
        message.queue = queue
        message.state = State.SCHEDULED if message.eta > now else State.QUEUED
        stored = copied(message)
        stored.suspect = False
        self.remove(stored.id)
        self.messages[stored.id] = stored
        self.states[stored.state][stored.id] = stored
        self._index(stored)
        if stored.unique_key and not self.unique_holder(stored.unique_key):
            self.unique[stored.unique_key] = stored.id

    def place(self, stored: Message, state: State) -> None:
        """Move a stored message to ``state``, its other fields already set:
        out of the index of its old state, into that of the new one; a lock
        key is given up when it leaves ``running``, a unique key when it
        finishes."""
        self._unindex(stored)
        del self.states[stored.state][stored.id]
        if stored.state == State.RUNNING and state != State.RUNNING:
            self._unlock(stored)
        if state in FINISHED_STATES:
            self._release_unique(stored)
            self.changed.notify_all()
        stored.state = state
        self.states[state][stored.id] = stored
        self._index(stored)

    def expire(
        self, stored: Message, now: datetime, kept_until: datetime | None
    ) -> None:
        """Move a message never claimed, past its deadline, to expired."""
        stored.error = expired_reason(stored.deadline) if stored.deadline else ""
        stored.traceback = ""
        stored.suspect = False
        stored.finished_at = now
        stored.expires_at = kept_until
        self.place(stored, State.EXPIRED)

    def remove(self, message_id: str) -> bool:
        """Forget a message in any state; return whether there was one."""
        stored = self.messages.pop(message_id, None)
        if stored is None:
            return False
        self._unindex(stored)
        del self.states[stored.state][message_id]
        if stored.state == State.RUNNING:
            self._unlock(stored)
        self._release_unique(stored)
        self.changed.notify_all()
        return True

    def holder(self, table: dict[str, str], key: str, states: frozenset[State]) -> str:
        """The id of the message holding ``key`` in ``table`` (the lock or
        unique keys) while it is in one of ``states``, or ``""``."""
        holder = table.get(key, "")
        held = self.messages.get(holder)
        return holder if held is not None and held.state in states else ""

    def unique_holder(self, key: str) -> str:
        return self.holder(self.unique, key, PENDING_STATES)

    def notify_ready(self, count: int) -> None:
        """Owe ``count`` more wake-ups to waiting consumers and wake them."""
        if count > 0:
            self.notices = min(self.notices + count, MAX_NOTICES)
            self.changed.notify_all()

    # -- Indexes -------------------------------------------------------------------

    def _index(self, stored: Message) -> None:
        state, message_id = stored.state, stored.id
        if stored.deadline is not None and not stored.attempts and state in _WAITING:
            self.deadlines.add(message_id, (stored.deadline,))
        if state == State.QUEUED:
            self.waiting.add(message_id, (stored.eta,))
        if state == State.QUEUED and stored.suspect:
            self.suspects.add(message_id, (stored.eta,))
            self.notify_ready(1)
        elif state == State.QUEUED:
            self.ready.add(message_id, ready_key(stored))
            self.notify_ready(1)
        elif state == State.SCHEDULED:
            self.scheduled.add(message_id, (stored.eta,))
        elif state == State.RUNNING and stored.lease_expires_at is not None:
            self.running.add(message_id, (stored.lease_expires_at,))
        elif state in FINISHED_STATES and stored.expires_at is not None:
            self.expiry.add(message_id, (stored.expires_at,))

    def _unindex(self, stored: Message) -> None:
        for index in (
            self.ready,
            self.suspects,
            self.scheduled,
            self.running,
            self.expiry,
            self.waiting,
            self.deadlines,
        ):
            index.discard(stored.id)

    def _unlock(self, stored: Message) -> None:
        if stored.lock_key and self.locks.get(stored.lock_key) == stored.id:
            del self.locks[stored.lock_key]
            # The next message of the key can now be claimed.
            self.notify_ready(1)

    def _release_unique(self, stored: Message) -> None:
        if stored.unique_key and self.unique.get(stored.unique_key) == stored.id:
            del self.unique[stored.unique_key]


def ready_key(message: Message) -> tuple[Any, ...]:
    """The order of ready messages: highest priority, then earliest eta
    (the id breaks ties in the index's entries)."""
    return (-message.priority, message.eta)


#: (connection, queue name) -> its store.
_STORES: dict[tuple[str, str], MemoryStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(connection: str, name: str) -> MemoryStore:
    """Return the store of the queue ``name`` on ``connection``, made at
    its first use; queues of one name and connection share it."""
    with _STORES_LOCK:
        store = _STORES.get((connection, name))
        if store is None:
            store = _STORES[(connection, name)] = MemoryStore()
        return store


def stores_on(connection: str) -> dict[str, MemoryStore]:
    """Return the stores of every queue on ``connection``, by queue name."""
    with _STORES_LOCK:
        return {name: s for (conn, name), s in _STORES.items() if conn == connection}
