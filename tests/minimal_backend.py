"""A backend written from the "Writing a backend" guide in docs/backends.rst
alone: the thirteen required methods over a dict and a lock, every optional
flag left False.

Its messages live in this process only. Queues of one name share their
messages, as queues on one storage do; the lock makes each call atomic
across the threads of a consumer.
"""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import timedelta

from djqueue.backends.base import BaseQueue
from djqueue.envelope.history import lost_attempt
from djqueue.envelope.message import with_attempt_error
from djqueue.states import State

#: Queue name -> message id -> the stored message.
_STORES: dict = {}
_LOCK = threading.Lock()

_FINISHED = (State.DONE, State.FAILED, State.CANCELLED)
WORKER_LOST = "worker lost: the lease expired while the message ran its last attempt"
LEASE_EXPIRED = "worker lost: the lease expired while the message ran"


class MinimalQueue(BaseQueue):
    """One queue in a dict of this process; callers get copies only."""

    def __init__(self, name, connection="", **options):
        super().__init__(name, connection, **options)
        with _LOCK:
            self._messages = _STORES.setdefault(name, {})

    def write(self, message):
        message.queue = self.name
        message.state = State.SCHEDULED if message.eta > self.now() else State.QUEUED
        with _LOCK:
            self._messages[message.id] = copy.deepcopy(message)

    def flush(self):
        with _LOCK:
            self._messages.clear()

    def __len__(self):
        with _LOCK:
            return sum(m.state == State.QUEUED for m in self._messages.values())

    def claim(self, worker, lease_seconds, limit=1, now=None, timeout=0):
        now = now or self.now()
        with _LOCK:
            ready = [m for m in self._messages.values() if m.state == State.QUEUED]
            ready.sort(key=lambda m: (-m.priority, m.eta, m.id))
            for message in ready[:limit]:
                message.state = State.RUNNING
                message.attempts += 1
                message.lease_token = uuid.uuid4().hex
                message.lease_expires_at = now + timedelta(seconds=lease_seconds)
                message.worker = worker
                message.started_at = now
            return [copy.deepcopy(m) for m in ready[:limit]]

    def ack(self, message, result=None, result_ttl=0, now=None):
        now = now or self.now()
        with _LOCK:
            stored = self._leased(message)
            if stored is None:
                return False
            if not result_ttl:
                del self._messages[message.id]
                return True
            self._finish(stored, State.DONE, "", "", now, result_ttl)
            stored.result = result
            return True

    def fail(self, message, error, traceback="", now=None):
        now = now or self.now()
        with _LOCK:
            stored = self._leased(message)
            if stored is None:
                return False
            self._finish(stored, State.FAILED, error, traceback, now, self.failed_ttl)
            stored.attempt_errors = copy.deepcopy(message.attempt_errors)
            return True

    def retry_later(self, message, eta, error="", traceback="", now=None):
        now = now or self.now()
        with _LOCK:
            stored = self._leased(message)
            if stored is None:
                return False
            self._end_lease(stored, State.SCHEDULED if eta > now else State.QUEUED)
            stored.eta = eta
            stored.error, stored.traceback = error, traceback
            stored.attempt_errors = copy.deepcopy(message.attempt_errors)
            return True

    def release(self, messages):
        released = 0
        with _LOCK:
            for message in messages:
                stored = self._leased(message)
                if stored is not None:
                    self._end_lease(stored, State.QUEUED)
                    stored.attempts -= 1
                    released += 1
        return released

    def extend(self, messages, lease_seconds, now=None):
        now = now or self.now()
        extended = 0
        with _LOCK:
            for message in messages:
                stored = self._leased(message)
                if stored is not None:
                    stored.lease_expires_at = now + timedelta(seconds=lease_seconds)
                    extended += 1
        return extended

    def promote_due(self, now=None):
        now = now or self.now()
        with _LOCK:
            due = [
                m
                for m in self._messages.values()
                if m.state == State.SCHEDULED and m.eta <= now
            ]
            for message in due:
                message.state = State.QUEUED
        return len(due)

    def reclaim_expired(self, now=None):
        now = now or self.now()
        with _LOCK:
            expired = [
                m
                for m in self._messages.values()
                if m.state == State.RUNNING and m.lease_expires_at < now
            ]
            for stored in expired:
                last = stored.attempts >= stored.max_attempts
                entry = lost_attempt(
                    stored, now, WORKER_LOST if last else LEASE_EXPIRED
                )
                errors = with_attempt_error(stored.attempt_errors, entry)
                if last:
                    failed_ttl = self.failed_ttl
                    self._finish(stored, State.FAILED, WORKER_LOST, "", now, failed_ttl)
                else:
                    self._end_lease(stored, State.QUEUED)
                stored.attempt_errors = errors
        return len(expired)

    def purge_expired(self, now=None):
        now = now or self.now()
        with _LOCK:
            ended = [
                m.id
                for m in self._messages.values()
                if m.state in _FINISHED and m.expires_at and m.expires_at <= now
            ]
            for message_id in ended:
                del self._messages[message_id]
        return len(ended)

    def get(self, message_id):
        with _LOCK:
            return copy.deepcopy(self._messages.get(message_id))

    # -- Helpers, called with the lock held ------------------------------------

    def _leased(self, message):
        """The stored message if ``message``'s lease is still the stored one."""
        stored = self._messages.get(message.id)
        if stored is None or stored.state != State.RUNNING:
            return None
        return stored if stored.lease_token == message.lease_token else None

    def _end_lease(self, stored, state):
        stored.state = state
        stored.lease_token = ""
        stored.lease_expires_at = None

    def _finish(self, stored, state, error, traceback, now, ttl):
        self._end_lease(stored, state)
        stored.error, stored.traceback = error, traceback
        stored.finished_at = now
        stored.expires_at = self.expiry(now, ttl)
