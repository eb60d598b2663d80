"""Claims of a ``MemoryQueue`` and the outcomes of the messages it leased.

Each call holds its store's lock from its first look to its last change:
two threads never lease one message, and an outcome checks the lease and
applies in one step.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from ...envelope.history import lost_attempt
from ...envelope.message import Message, with_attempt_error
from ...states import State
from ..base import Reclaimed
from ..reasons import LEASE_EXPIRED, WORKER_LOST
from .index import Entry, HeapIndex
from .part import MemoryPart, copied

_RUNNING = frozenset({State.RUNNING})


class MemoryLeases(MemoryPart):
    """Mixed into ``MemoryQueue``; relies on its ``store``."""

    def claim(
        self,
        worker: str,
        lease_seconds: float,
        limit: int = 1,
        now: datetime | None = None,
        timeout: float = 0,
    ) -> list[Message]:
        """Lease as the contract says; with a ``timeout``, wait for a
        message written or made ready by another thread of this process."""
        moment = now or self.now()
        deadline = time.monotonic() + timeout
        store = self.store
        with store.lock:
            while True:
                claimed = self._take(store.ready, worker, lease_seconds, limit, moment)
                remaining = deadline - time.monotonic()
                if claimed or remaining <= 0 or not self._await_notice(remaining):
                    return claimed
                moment = now or self.now()

    def wait_for_messages(self, timeout: float) -> bool:
        """Return at once if a wake-up is owed (a message was made ready
        since the last one was taken), else wait for one up to ``timeout``
        seconds. Only this process's threads can make one ready."""
        if timeout <= 0:
            return False
        with self.store.lock:
            return self._await_notice(timeout)

    def _await_notice(self, timeout: float) -> bool:
        """Take one owed wake-up, waiting up to ``timeout`` seconds for it;
        called with the lock held."""
        store = self.store
        if not store.changed.wait_for(lambda: store.notices > 0, timeout):
            return False
        store.notices -= 1
        return True

    def claim_suspect(
        self, worker: str, lease_seconds: float, now: datetime | None = None
    ) -> Message | None:
        with self.store.lock:
            claimed = self._take(
                self.store.suspects, worker, lease_seconds, 1, now or self.now()
            )
        return claimed[0] if claimed else None

    def has_suspects(self) -> bool:
        with self.store.lock:
            return len(self.store.suspects) > 0

    def _take(
        self,
        index: HeapIndex,
        worker: str,
        lease_seconds: float,
        limit: int,
        now: datetime,
    ) -> list[Message]:
        """Lease up to ``limit`` messages of ``index``, first first, passing
        over (and leaving ready) those whose lock key is held, and expiring
        on the way those never claimed whose deadline passed."""
        store = self.store
        claimed: list[Message] = []
        passed: list[Entry] = []
        taken: set[str] = set()
        token = uuid.uuid4().hex
        expires = now + timedelta(seconds=lease_seconds)
        while len(claimed) < limit and (entry := index.pop()) is not None:
            stored = store.messages[entry[1]]
            deadline = stored.deadline
            if deadline is not None and not stored.attempts and deadline <= now:
                store.expire(stored, now, self.expiry(now, self.failed_ttl))
                store.expired_news.append(stored.id)
                continue
            key = stored.lock_key
            if key and (key in taken or store.holder(store.locks, key, _RUNNING)):
                passed.append(entry)
                continue
            if key:
                store.locks[key] = stored.id
                taken.add(key)
            stored.attempts += 1
            stored.lease_token = token
            stored.lease_expires_at = expires
            stored.worker = worker
            stored.started_at = now
            store.place(stored, State.RUNNING)
            claimed.append(copied(stored))
        for entry in passed:
            index.restore(entry)
        return claimed

    def _leased(self, message: Message) -> Message | None:
        """The stored message, if ``message``'s lease is still its lease."""
        stored = self.store.messages.get(message.id)
        if stored is None or stored.state != State.RUNNING:
            return None
        token = message.lease_token
        return stored if token and stored.lease_token == token else None

    def _finish(
        self, stored: Message, state: State, now: datetime, expires: datetime | None
    ) -> None:
        stored.suspect = False
        stored.finished_at = now
        stored.expires_at = expires
        stored.lease_token = ""
        stored.lease_expires_at = None
        self.store.place(stored, state)

    def ack(
        self,
        message: Message,
        result: str | None = None,
        result_ttl: float = 0,
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        with self.store.lock:
            stored = self._leased(message)
            if stored is None:
                return False
            if not result_ttl:
                return self.store.remove(stored.id)
            stored.result = result
            stored.error = stored.traceback = ""
            self._finish(stored, State.DONE, now, self.expiry(now, result_ttl))
            return True

    def fail(
        self,
        message: Message,
        error: str,
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        with self.store.lock:
            stored = self._leased(message)
            if stored is None:
                return False
            stored.error, stored.traceback = error, traceback
            stored.attempt_errors = copy.deepcopy(message.attempt_errors)
            self._finish(stored, State.FAILED, now, self.expiry(now, self.failed_ttl))
            return True

    def retry_later(
        self,
        message: Message,
        eta: datetime,
        error: str = "",
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        with self.store.lock:
            stored = self._leased(message)
            if stored is None:
                return False
            stored.suspect = False
            stored.eta = eta
            stored.error, stored.traceback = error, traceback
            stored.attempt_errors = copy.deepcopy(message.attempt_errors)
            stored.lease_token, stored.lease_expires_at = "", None
            stored.progress = ""
            self.store.place(stored, State.SCHEDULED if eta > now else State.QUEUED)
            return True

    def release(self, messages: Iterable[Message]) -> int:
        released = 0
        with self.store.lock:
            for message in messages:
                stored = self._leased(message)
                if stored is not None:
                    stored.attempts -= 1
                    stored.lease_token, stored.lease_expires_at = "", None
                    stored.progress = ""
                    self.store.place(stored, State.QUEUED)
                    released += 1
        return released

    def set_progress(self, message: Message, progress: str) -> bool:
        with self.store.lock:
            stored = self._leased(message)
            if stored is None:
                return False
            stored.progress = progress
            return True

    def extend(
        self,
        messages: Iterable[Message],
        lease_seconds: float,
        now: datetime | None = None,
    ) -> int:
        expires = (now or self.now()) + timedelta(seconds=lease_seconds)
        extended = 0
        with self.store.lock:
            for message in messages:
                stored = self._leased(message)
                if stored is not None:
                    stored.lease_expires_at = expires
                    self.store.running.add(stored.id, (expires,))
                    extended += 1
        return extended

    def reclaim_expired(self, now: datetime | None = None) -> int:
        return self.reclaim(now).taken

    def reclaim(self, now: datetime | None = None) -> Reclaimed:
        now = now or self.now()
        failed: list[str] = []
        store = self.store
        with store.lock:
            expired = list(store.running.pop_until((now,), inclusive=False))
            for message_id in expired:
                stored = store.messages[message_id]
                last = stored.attempts >= stored.max_attempts
                entry = lost_attempt(
                    stored, now, WORKER_LOST if last else LEASE_EXPIRED
                )
                stored.attempt_errors = with_attempt_error(stored.attempt_errors, entry)
                if last:
                    stored.error = WORKER_LOST
                    self._finish(
                        stored, State.FAILED, now, self.expiry(now, self.failed_ttl)
                    )
                    failed.append(message_id)
                else:
                    stored.suspect = True
                    stored.lease_token, stored.lease_expires_at = "", None
                    stored.progress = ""
                    store.place(stored, State.QUEUED)
        return Reclaimed(len(expired), failed)
