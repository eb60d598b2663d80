"""The contract every queue backend fulfils.

A backend stores :class:`~djqueue.message.Message` envelopes for one named
queue and moves them between states atomically. It never imports user code
and never decodes payloads. The guarantees stated in these docstrings are
what the contract test suite (``tests/test_contract.py``) checks for every
backend.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.core import checks
from django.utils import timezone

from ..inspection import ConsumerInfo, MessageScan, Throughput
from ..message import Message
from ..states import State


class Ack(NamedTuple):
    """One acknowledgement for :meth:`BaseQueue.ack_many`: the arguments of
    :meth:`BaseQueue.ack`, so a plain ``(message, result, result_ttl)``
    tuple serves as well."""

    message: Message
    #: The encoded (and signed) result, ``None`` for none.
    result: str | None = None
    #: Seconds the result is kept; 0 deletes the message.
    result_ttl: float = 0


class BaseQueue(ABC):
    """One named queue on one storage technology."""

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
    # Whether reclaim_expired() marks what it requeues as suspect, for
    # claim_suspect() alone to lease.
    supports_suspects = False
    # The OPTIONS keys this backend understands.
    option_names = frozenset({"FAILED_TTL", "ON_COMMIT"})

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        self.name = name
        self.connection = connection
        self.options = options
        failed_ttl = options.get("FAILED_TTL", _setting("QUEUE_FAILED_TTL"))
        #: For backends outside the database transaction: whether a write made
        #: inside ``transaction.atomic()`` waits for the commit (the default)
        #: or happens at once, even if the transaction later rolls back.
        self.defer_on_commit: bool = options.get("ON_COMMIT", True)
        #: How long failed and cancelled messages are kept; None is for ever.
        self.failed_ttl: timedelta | None = (
            None if failed_ttl is None else timedelta(seconds=failed_ttl)
        )

    @classmethod
    def check_config(
        cls, name: str, connection: Any, options: dict[str, Any]
    ) -> list[checks.CheckMessage]:
        """Return system check messages about this queue's configuration.

        Subclasses extend the list; this checks the OPTIONS every backend
        shares and reports keys the backend does not know.
        """
        errors = []
        unknown = set(options) - cls.option_names
        if unknown:
            errors.append(
                checks.Error(
                    f"Queue {name!r} has OPTIONS that {cls.__name__} does not "
                    f"know: {sorted(unknown)}.",
                    hint=f"The known OPTIONS are {sorted(cls.option_names)}.",
                    id="djqueue.E006",
                )
            )
        failed_ttl = options.get("FAILED_TTL")
        if failed_ttl is not None and (
            isinstance(failed_ttl, bool)
            or not isinstance(failed_ttl, (int, float))
            or failed_ttl < 0
        ):
            errors.append(
                checks.Error(
                    f"Queue {name!r} has OPTIONS['FAILED_TTL'] = {failed_ttl!r}; "
                    "it must be a number of seconds ≥ 0 or None.",
                    id="djqueue.E007",
                )
            )
        return errors

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections held by this instance."""

    # -- The djutils.queue surface ------------------------------------------

    @abstractmethod
    def write(self, message: Message) -> None:
        """Store ``message``: ``scheduled`` if its eta is in the future, else
        ``queued``. When this returns, the message is stored (or, for a
        backend that supports transactions, stored once the caller's
        transaction commits)."""

    @abstractmethod
    def write_unique(self, message: Message) -> str:
        """Store ``message`` unless a pending message (queued, scheduled or
        running) of this queue holds its ``unique_key``; return the id of the
        message that holds the key, ``message.id`` if it was stored. The key
        is released when its message finishes (done, failed, cancelled)."""

    def write_many(self, messages: Sequence[Message]) -> None:
        """Store several messages, with as few round trips as the backend can."""
        for message in messages:
            self.write(message)

    @abstractmethod
    def write_tick(self, message: Message, name: str, tick: datetime) -> bool:
        """Write ``message`` as tick ``tick`` of the periodic command
        ``name``, unless that tick or a later one was already written.

        The claim and the write are one atomic step, so each tick is written
        once however many consumers try. Return whether this call wrote it.
        """

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

    def claim_suspect(
        self, worker: str, lease_seconds: float, now: datetime | None = None
    ) -> Message | None:
        """Lease the ready suspect message that has waited longest (earliest
        eta), as :meth:`claim` leases, or return ``None`` if none is ready.

        The message stays suspect while it runs, and after a :meth:`release`;
        :meth:`ack`, :meth:`fail` and :meth:`retry_later` clear the mark. A
        consumer runs a suspect message alone, so that if its process dies
        again only that message is charged the lost attempt.
        """
        raise NotImplementedError(
            "This backend does not keep messages whose worker was lost apart."
        )

    def has_suspects(self) -> bool:
        """Return whether a suspect message is ready, at the cost of one
        index lookup whatever the queue's depth."""
        raise NotImplementedError(
            "This backend does not keep messages whose worker was lost apart."
        )

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

    @abstractmethod
    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete finished messages whose retention ended. Return how many."""

    # -- Results and inspection ----------------------------------------------

    @abstractmethod
    def get(self, message_id: str) -> Message | None:
        """Return the stored message with its state, result, last error and
        attempt errors, or ``None`` if this queue holds no such message."""

    def wait(self, message_id: str, timeout: float | None) -> Message | None:
        """Return the message once it is finished, or as it is after
        ``timeout`` seconds (``None`` waits for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            message = self.get(message_id)
            if message is None or message.state in _FINISHED:
                return message
            if deadline is not None and time.monotonic() >= deadline:
                return message
            pause = (
                delay if deadline is None else min(delay, deadline - time.monotonic())
            )
            time.sleep(max(pause, 0))
            delay = min(delay * 2, 0.5)

    @abstractmethod
    def counts(self) -> dict[State, int]:
        """Return the number of messages in each state (every state present)."""

    @abstractmethod
    def list_messages(
        self,
        state: State,
        offset: int = 0,
        limit: int = 50,
        command: str | None = None,
    ) -> list[Message]:
        """Return one page of messages in ``state``, in the order they will
        run (ready and scheduled) or most recent first (the others), only
        those of ``command`` if given. Nothing is counted: ask for one more
        than a page to learn whether another page follows. A backend that
        cannot filter on the server may examine at most
        :data:`INSPECT_SCAN_LIMIT` messages for a filtered page and then
        return a short page."""

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
    ) -> MessageScan:
        """Return the next page of a scan through the messages in ``state``
        (only those of ``command`` if given), in :meth:`list_messages` order,
        from ``cursor`` (``""``: the start; else a cursor a previous page of
        this scan returned). Raise ``ValueError`` for a cursor that no page
        returned.

        Following the cursors until one is ``""`` reaches every message of
        the state, however deep, while no page examines more than
        :data:`INSPECT_SCAN_LIMIT` messages: a page may be short, or empty,
        with a cursor to go on. This default filters in
        :meth:`list_messages` and its cursor is the position of the next
        page, so, as with page numbers, a message can be missed when
        messages ahead of it leave the state during the scan.
        """
        offset = _position(cursor)
        found = self.list_messages(state, offset, limit + 1, command=command)
        more = len(found) > limit
        return MessageScan(
            found[:limit], str(offset + limit) if more else "", len(found)
        )

    def for_inspection(self) -> BaseQueue:
        """Return this queue as tools that only look at it (the admin
        pages, metrics) should read it: a server that hangs or refuses makes
        each call fail within a bounded time, without retries, instead of
        waiting as long as a consumer would. This default returns the queue
        itself, for backends whose calls are bounded anyway."""
        return self

    @abstractmethod
    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        """Put a ``failed`` or ``cancelled`` message back to ``queued`` with
        its attempts reset and its attempt errors cleared. Return False if it
        is in no such state."""

    @abstractmethod
    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        """Move a ``queued`` or ``scheduled`` message to ``cancelled``; it
        will not run. Return False if it is in no such state (a running
        message is never interrupted)."""

    @abstractmethod
    def delete(self, message_id: str) -> bool:
        """Delete a message in any state. Return False if there was none."""

    @abstractmethod
    def purge(self, state: State) -> int:
        """Delete every message of this queue in ``state``. Return how many."""

    @abstractmethod
    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        """Make a ``scheduled`` message ready at once. Return False if it is
        in no such state."""

    @abstractmethod
    def oldest_queued_at(self) -> datetime | None:
        """Return since when the longest-waiting ready message has been
        ready (its eta), or ``None`` when nothing is queued."""

    # -- Consumers and statistics ----------------------------------------------

    @abstractmethod
    def register_consumer(
        self, info: ConsumerInfo, ttl: float, now: datetime | None = None
    ) -> None:
        """Record that the consumer ``info.id`` serves this queue; it counts
        as alive for ``ttl`` seconds from ``now``. Registering again is the
        heartbeat."""

    @abstractmethod
    def unregister_consumer(self, consumer_id: str) -> None:
        """Forget a consumer that stopped (a no-op if it is unknown)."""

    @abstractmethod
    def consumers(self, now: datetime | None = None) -> list[ConsumerInfo]:
        """Return the consumers alive at ``now``, the latest started first."""

    @abstractmethod
    def record_runs(
        self, counts: Mapping[tuple[str, State], int], now: datetime | None = None
    ) -> None:
        """Add finished runs, keyed by command and ``State.DONE`` or
        ``State.FAILED``, to the statistics of the minute of ``now`` and to
        the totals per command."""

    @abstractmethod
    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
        """Return the runs finished per minute from the minute of ``since``
        to ``now``, oldest first, leaving out minutes without runs. Minutes
        are kept for :data:`~djqueue.inspection.THROUGHPUT_RETENTION`."""

    @abstractmethod
    def command_totals(self) -> dict[str, tuple[int, int]]:
        """Return, per command, the runs that finished done and failed since
        this queue's statistics began."""

    @abstractmethod
    def last_ticks(self) -> dict[str, datetime]:
        """Return the latest tick written for each periodic command on this
        queue."""

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
#: :meth:`BaseQueue.list_messages`.
INSPECT_SCAN_LIMIT = 10_000

_FINISHED = frozenset({State.DONE, State.FAILED, State.CANCELLED})


def _position(cursor: str) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.")
    return int(cursor)


def _setting(name: str) -> Any:
    from ..conf import settings

    return getattr(settings, name)
