"""Acknowledgements of succeeded runs, stored in groups.

A worker whose message succeeded hands the outcome to an :class:`AckBuffer`
and goes on with its next message; a thread of the buffer's own stores what
has gathered with one :meth:`~djqueue.backends.base.BaseQueue.ack_many` call
a queue: as soon as ``batch`` are waiting, ``interval`` seconds after the
first was added, or when a worker is about to go idle. Until its ack is
stored a message stays in flight, so the heartbeat renews its lease and a
stop waits for it: a crash inside the window only runs it again, which is
the at-least-once contract.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from django.db import connections

from ..backends.base import Ack, BaseQueue
from ..envelope.message import Message
from .execution import Outcome
from .inflight import InFlight
from .outages import Outage
from .outcomes import announce, keep_trying, warn_lease_lost

logger = logging.getLogger("djqueue.consumer")

Pending = tuple[BaseQueue, Message, Outcome]


class AckBuffer:
    """Store acknowledgements in groups, from a thread of its own.

    Once an ack is stored (or refused: the lease was lost) its message
    leaves ``inflight``, ``message_finished`` is sent for it and
    ``on_stored`` is called. Storing that fails is retried with backoff
    until ``lease_seconds`` (on ``clock``) after the first try; then the
    group is given up and its messages run again once their leases expire.
    """

    def __init__(
        self,
        inflight: InFlight,
        outage: Outage,
        lease_seconds: float,
        *,
        batch: int,
        interval: float,
        clock: Callable[[], float],
        now: Callable[[], datetime],
        on_stored: Callable[[], None],
    ) -> None:
        self.inflight = inflight
        self.outage = outage
        self.lease_seconds = lease_seconds
        self.batch = max(batch, 1)
        self.interval = interval
        self.clock = clock
        self.now = now
        self.on_stored = on_stored
        self._pending: list[Pending] = []
        self._first_at = 0.0
        self._storing = 0
        self._urgent = False
        self._closing = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        #: Messages whose ack could not be stored once closing.
        self.unstored: list[Message] = []

    def __len__(self) -> int:
        """How many acks wait to be stored, or are being stored."""
        return len(self._pending) + self._storing

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="djqueue-acks", daemon=True
        )
        self._thread.start()

    def add(self, queue: BaseQueue, message: Message, outcome: Outcome) -> None:
        with self._condition:
            first = not self._pending
            if first:
                self._first_at = time.monotonic()
            self._pending.append((queue, message, outcome))
            # The first starts the thread's timer; a full batch ends it.
            if first or len(self._pending) >= self.batch:
                self._condition.notify()

    def store_soon(self) -> None:
        """Store what is waiting now, without waiting for the interval."""
        with self._condition:
            if self._pending:
                self._urgent = True
                self._condition.notify()

    def close(self, timeout: float) -> list[Message]:
        """Store what is left, for at most ``timeout`` seconds, and stop the
        thread; return the messages whose ack was not stored."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._condition:
            left = [message for _, message, _ in self._pending]
        return self.unstored + left

    def _loop(self) -> None:
        try:
            while (taken := self._take()) is not None:
                self._store(taken)
        finally:
            connections.close_all()  # this thread's, which ends here

    def _take(self) -> list[Pending] | None:
        """Wait until a group is due; None once closed and empty."""
        with self._condition:
            while True:
                if self._pending and (
                    self._closing
                    or self._urgent
                    or len(self._pending) >= self.batch
                    or time.monotonic() >= self._first_at + self.interval
                ):
                    taken, self._pending = self._pending, []
                    self._storing, self._urgent = len(taken), False
                    return taken
                if self._closing and not self._pending:
                    return None
                wait = self._first_at + self.interval - time.monotonic()
                self._condition.wait(wait if self._pending else None)

    def _store(self, taken: list[Pending]) -> None:
        by_queue: dict[BaseQueue, list[tuple[Message, Outcome]]] = defaultdict(list)
        for queue, message, outcome in taken:
            by_queue[queue].append((message, outcome))
        try:
            for queue, group in by_queue.items():
                kept = self._ack(queue, group)
                if kept is None:
                    for message, _ in group:
                        self.inflight.finish(message)
                        if self._closing:
                            self.unstored.append(message)
                    continue
                for (message, outcome), held in zip(group, kept, strict=True):
                    self.inflight.finish(message)
                    if held:
                        announce(message, outcome)
                    else:
                        warn_lease_lost(message)
        finally:
            with self._condition:
                self._storing = 0
            self.on_stored()

    def _ack(
        self, queue: BaseQueue, group: list[tuple[Message, Outcome]]
    ) -> list[bool] | None:
        """Acknowledge ``group`` in one call, retrying with backoff while
        the leases would hold; None if every try failed."""
        acks = [
            Ack(message, outcome.result, message.options.get("result_ttl", 0))
            for message, outcome in group
        ]
        answered, kept = keep_trying(
            lambda: queue.ack_many(acks, now=self.now()),
            lambda attempt: (
                f"acknowledge {len(acks)} message(s) of queue {queue.name!r} "
                f"(try {attempt})"
            ),
            self.clock() + self.lease_seconds,
            self.clock,
            # The outage's on_error closes this thread's broken connections.
            self.outage.failed,
            self.outage.answered,
            stop=lambda: self._closing,
        )
        if not answered:
            logger.error(
                "Gave up acknowledging %d message(s) of queue %r; they run "
                "again when their lease expires",
                len(acks),
                queue.name,
            )
        return kept
