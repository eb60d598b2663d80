"""The contract every queue backend fulfils.

A backend stores :class:`~djqueue.envelope.message.Message` envelopes for one named
queue and moves them between states atomically. It never imports user code
and never decodes payloads. The guarantees stated in these docstrings are
what the contract test suite (``tests/test_contract.py``) checks for every
backend.

:class:`BaseQueue` holds what every backend needs: the message lifecycle
that enqueueing and the consumer cannot do without. The optional parts
(inspection, consumer presence, run statistics, periodic ticks, unique keys)
are classes of their own in this package (see :mod:`.optional`); a backend
that has one derives from it, which sets its ``supports_*`` flag. What a
queue is configured with, and its check, are in :mod:`.config`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from django.utils import timezone

from ..envelope.message import Message
from ..states import FINISHED_STATES
from .config import QueueConfig
from .optional import OptionalParts


class Ack(NamedTuple):
    """One acknowledgement for :meth:`BaseQueue.ack_many`: the arguments of
    :meth:`BaseQueue.ack`, so a plain ``(message, result, result_ttl)``
    tuple serves as well."""

    message: Message
    #: The encoded (and signed) result, ``None`` for none.
    result: str | None = None
    #: Seconds the result is kept; 0 deletes the message.
    result_ttl: float = 0


class Reclaimed(NamedTuple):
    """What :meth:`BaseQueue.reclaim` took back."""

    #: How many messages were taken back (requeued or failed).
    taken: int
    #: The ids of those that used their last attempt and went to ``failed``.
    failed: list[str]


class BaseQueue(QueueConfig, OptionalParts, ABC):
    """One named queue on one storage technology: the message lifecycle.

    Its name, connection and OPTIONS, and their system check
    (``check_config``), come from :class:`~djqueue.backends.config.QueueConfig`;
    the optional parts and their ``supports_*`` flags from
    :class:`~djqueue.backends.optional.OptionalParts`.
    """

    # Whether a write inside the caller's database transaction exists only
    # once that transaction commits.
    supports_transactions = False
    # Whether claim(timeout=...) waits on the server instead of returning.
    supports_blocking_claim = False
    # Whether wait_for_messages() returns as soon as a message may be ready,
    # rather than sleeping out its timeout.
    supports_wakeup = False
    # Whether claim() honours Message.lock_key (see claim()); enqueueing a
    # message with a lock key on a backend without it raises.
    supports_lock_keys = False
    # Whether other processes (a run_queue apart from the enqueuing process)
    # see this queue's messages.
    shared_between_processes = True

    def close(self) -> None:
        """Release connections held by this instance."""

    # -- The djutils.queue surface ------------------------------------------

    @abstractmethod
    def write(self, message: Message) -> None:
        """Store ``message``: ``scheduled`` if its eta is in the future, else
        ``queued``, setting its ``queue`` (this queue's name) and ``state``
        to match. When this returns, the message is stored (or, for a
        backend that supports transactions, stored once the caller's
        transaction commits)."""

    def write_many(self, messages: Sequence[Message]) -> None:
        """Store several messages, with as few round trips as the backend can."""
        for message in messages:
            self.write(message)

    def read(self, worker: str = "", lease_seconds: float = 30) -> Message | None:
        """Lease the next ready message, or return ``None`` when none is ready.

        The message stays stored until it is acknowledged or failed. A
        suspect message comes only when no other is ready.
        """
        claimed = self.claim(worker, lease_seconds, limit=1)
        if claimed:
            return claimed[0]
        if self.supports_suspects:
            return self.claim_suspect(worker, lease_seconds)
        return None

    def wait_for_messages(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a message to become ready.

        Return True as soon as one may be ready (a claim may still find
        none: another consumer can take it first), False after the timeout.
        A backend that cannot wait on the server sleeps instead, as this
        default does.
        """
        time.sleep(max(timeout, 0))
        return False

    @abstractmethod
    def flush(self) -> None:
        """Delete every message of this queue, in every state."""

    @abstractmethod
    def __len__(self) -> int:
        """Return the number of ``queued`` (ready) messages."""

    # -- Leases --------------------------------------------------------------

    @abstractmethod
    def claim(
        self,
        worker: str,
        lease_seconds: float,
        limit: int = 1,
        now: datetime | None = None,
        timeout: float = 0,
    ) -> list[Message]:
        """Lease up to ``limit`` ready messages to ``worker``.

        Messages come highest priority first, then earliest eta first. Each
        returned message is ``running``, has its ``attempts`` incremented and
        carries a ``lease_token``; no other claim returns it until its lease
        expires and it is reclaimed. A backend that supports blocking claims
        waits up to ``timeout`` seconds for a message; others return at once.

        With ``supports_lock_keys``, a running message holds its
        ``lock_key`` in this queue: a ready message with a key that is held
        is skipped, left ``queued`` with its attempts unchanged, and one
        claim returns at most one message per key, however many consumers
        claim at once. The hold ends when its message leaves ``running``
        (ack, fail, retry_later, release, delete, or reclaim after its lease
        expired); the next message of the key can then be claimed.

        A suspect message (see :meth:`reclaim_expired`) is never returned:
        only :meth:`claim_suspect` leases it.
        """

    @abstractmethod
    def ack(
        self,
        message: Message,
        result: str | None = None,
        result_ttl: float = 0,
        now: datetime | None = None,
    ) -> bool:
        """Mark a leased message ``done`` (no longer suspect), keeping
        ``result`` for ``result_ttl`` seconds; with a TTL of 0 the message is
        deleted.

        Return False, changing nothing, if the lease was lost (it expired and
        the message was reclaimed, or it was released or deleted)."""

    def ack_many(self, acks: Sequence[Ack], now: datetime | None = None) -> list[bool]:
        """Acknowledge each of ``acks`` as :meth:`ack` would, one after the
        other, all at ``now``, with as few round trips as the backend can.

        Return, in order, what each :meth:`ack` would have returned: False,
        changing nothing, where the lease was lost, as for a message
        acknowledged again later in the same batch. This default calls
        :meth:`ack` for each."""
        now = now or self.now()
        return [
            self.ack(message, result, result_ttl, now=now)
            for message, result, result_ttl in acks
        ]

    def ack_and_claim(
        self,
        message: Message,
        result: str | None,
        result_ttl: float,
        worker: str,
        lease_seconds: float,
        now: datetime | None = None,
    ) -> tuple[bool, list[Message]]:
        """Acknowledge ``message`` as :meth:`ack` does, then lease the next
        ready message as :meth:`claim` does; a backend may do both in one
        round trip. Return what ``ack`` returned and what ``claim`` leased."""
        kept = self.ack(message, result, result_ttl, now=now)
        return kept, self.claim(worker, lease_seconds, limit=1, now=now)

    @abstractmethod
    def fail(
        self,
        message: Message,
        error: str,
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        """Move a leased message to ``failed`` (the dead letter) with the
        reason, storing ``message.attempt_errors`` as they are, no longer
        suspect. Return False, changing nothing, if the lease was lost."""

    @abstractmethod
    def retry_later(
        self,
        message: Message,
        eta: datetime,
        error: str = "",
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        """Give a leased message back to run again at ``eta``, keeping its
        attempt count, recording the error of the attempt that ended and
        storing ``message.attempt_errors`` as they are; the run ended without
        losing its worker, so the message is no longer suspect. Return False,
        changing nothing, if the lease was lost."""

    @abstractmethod
    def release(self, messages: Iterable[Message]) -> int:
        """Put leased messages back to ``queued`` without counting the
        attempt (a consumer shutting down), suspect ones still suspect.
        Return how many were released."""

    @abstractmethod
    def extend(
        self,
        messages: Iterable[Message],
        lease_seconds: float,
        now: datetime | None = None,
    ) -> int:
        """Extend the leases still held on ``messages`` to
        ``now + lease_seconds``. Return how many leases were extended."""

    @abstractmethod
    def promote_due(self, now: datetime | None = None) -> int:
        """Move ``scheduled`` messages whose eta has come to ``queued``.
        Return how many moved."""

    @abstractmethod
    def reclaim_expired(self, now: datetime | None = None) -> int:
        """Take back messages whose lease expired (their worker died).

        A message with attempts left goes back to ``queued``, in the same
        atomic step marked suspect on a backend that ``supports_suspects``
        (it may be what killed its worker); one that used its last attempt
        goes to ``failed`` with "worker lost" as the reason. Return how many
        messages were taken back."""

    def reclaim(self, now: datetime | None = None) -> Reclaimed:
        """Do :meth:`reclaim_expired` and say which messages it failed, so
        the consumer can send ``message_failed`` for them. This default
        calls ``reclaim_expired`` and names none; a backend that can tell
        overrides it (and then implements ``reclaim_expired`` with it)."""
        return Reclaimed(self.reclaim_expired(now=now), [])

    @abstractmethod
    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete finished messages whose retention ended. Return how many."""

    # -- Results --------------------------------------------------------------

    @abstractmethod
    def get(self, message_id: str) -> Message | None:
        """Return the stored message with its state, result, last error and
        attempt errors, or ``None`` if this queue holds no such message."""

    def locate(self, message_id: str) -> str | None:
        """Return the name of the queue that holds ``message_id``, or
        ``None``. This default looks in this queue only; a backend that
        stores several queues together may find it in any of them."""
        return self.name if self.get(message_id) is not None else None

    def wait(self, message_id: str, timeout: float | None) -> Message | None:
        """Return the message once it is finished, or as it is after
        ``timeout`` seconds (``None`` waits for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            message = self.get(message_id)
            if message is None or message.state in FINISHED_STATES:
                return message
            if deadline is not None and time.monotonic() >= deadline:
                return message
            pause = (
                delay if deadline is None else min(delay, deadline - time.monotonic())
            )
            time.sleep(max(pause, 0))
            delay = min(delay * 2, 0.5)

    def for_inspection(self) -> BaseQueue:
        """Return this queue as tools that only look at it (the admin
        pages, metrics) should read it: a server that hangs or refuses makes
        each call fail within a bounded time, without retries, instead of
        waiting as long as a consumer would. This default returns the queue
        itself, for backends whose calls are bounded anyway."""
        return self

    # -- Helpers for subclasses ----------------------------------------------

    def expiry(self, now: datetime, ttl: timedelta | float | None) -> datetime | None:
        """Return when something kept for ``ttl`` from ``now`` expires."""
        if ttl is None:
            return None
        if not isinstance(ttl, timedelta):
            ttl = timedelta(seconds=ttl)
        return now + ttl

    @staticmethod
    def now() -> datetime:
        return timezone.now()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


#: The most messages a backend examines for one filtered page of
#: :meth:`~djqueue.backends.inspection.Inspection.list_messages`.
INSPECT_SCAN_LIMIT = 10_000
#: The most bytes of arguments and errors a ``RedisQueue`` searches for one
#: page of a text search, in the server; the page stops at the message that
#: reached it, before ``INSPECT_SCAN_LIMIT`` when the messages are large.
INSPECT_SCAN_BYTES = 8 * 1024 * 1024
