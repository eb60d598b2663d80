"""Which messages a consumer leases next, and how many.

The main thread claims up to as many messages as it has free worker slots,
from its queues in order, in one backend call a queue. A message whose
worker was lost (its lease expired: the process died, perhaps killed by
that very message) comes back suspect and runs alone: the consumer lets its
running messages finish, claims the suspect, and claims nothing else until
it ends. If it kills the process again, it alone is charged. A paused queue
(:mod:`.pauses`) is not claimed from, suspects included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from ..backends.base import BaseQueue
from ..envelope.message import Message
from .inflight import InFlight
from .outages import UNANSWERED, BackendCalls
from .pauses import Pauses

logger = logging.getLogger("djqueue.consumer")


class Claimer:
    """Lease messages for one consumer and hand each to ``hand_over``.

    ``slots`` is how many messages ``held()`` may count at once. Claims return
    a count, or ``None`` when a backend could not be reached.
    """

    def __init__(
        self,
        queues: Sequence[BaseQueue],
        worker_id: str,
        lease_seconds: float,
        slots: int,
        inflight: InFlight,
        held: Callable[[], int],
        calls: BackendCalls,
        hand_over: Callable[[BaseQueue, Message], None],
        now: Callable[[], datetime],
    ) -> None:
        self.queues = queues
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.slots = slots
        self.inflight = inflight
        self.held = held
        self.calls = calls
        self.hand_over = hand_over
        self.now = now
        self.clock = calls.clock
        self.isolating = [queue for queue in queues if queue.supports_suspects]
        #: The queues paused, which no claim asks.
        self.pauses = Pauses(queues)
        #: Whether a suspect message may be waiting: then nothing new starts
        #: until it ran alone.
        self.suspects_waiting = False
        self._draining_since: float | None = None
        # The id of the suspect message running alone.
        self._alone: str | None = None

    def free_slots(self) -> int:
        """How many messages to claim: none while a suspect message runs
        alone, nor while the running messages finish to let one run alone.
        Running messages that take long do not stall the consumer: it waits
        for them one lease at a time, taking messages in between."""
        busy = self.held()
        if self._alone not in self.inflight:
            self._alone = None  # its id may come back, an ordinary message
        if self._alone is not None:
            return 0
        if busy and self.suspects_waiting:
            if self._draining_since is None:
                self._draining_since = self.clock()
            waited = self.clock() - self._draining_since
            if waited % (2 * self.lease_seconds) < self.lease_seconds:
                return 0
        return self.slots - busy

    def claim(self, limit: int, timeout: float = 0) -> int | None:
        """Claim up to ``limit`` messages; a suspect one waiting comes first,
        alone. ``timeout`` lets a backend that supports blocking claims wait
        that long for a message."""
        if self.suspects_waiting and not len(self.inflight):
            alone = self._claim_suspect()
            if alone != 0:
                return alone
        claimed, paused = 0, self.pauses.paused
        for queue in self.queues:
            if paused and queue.name in paused:
                continue
            messages = self.calls.ask(
                f"claim from queue {queue.name!r}",
                # The defaults bind this pass's values; mypy cannot infer
                # the type of a lambda that has some.
                lambda queue=queue, limit=limit - claimed: queue.claim(  # type: ignore[misc]
                    self.worker_id,
                    self.lease_seconds,
                    limit,
                    now=self.now(),
                    timeout=timeout,
                ),
                patience=timeout if queue.supports_blocking_claim else 0.0,
            )
            if messages is UNANSWERED:
                return None
            for message in messages:
                self._take(queue, message)
            claimed += len(messages)
            if claimed >= limit:
                break
        return claimed

    def _claim_suspect(self) -> int | None:
        """Claim one suspect message to run alone; return 1, 0 when none is
        waiting, or ``None`` if a backend could not be reached."""
        self._draining_since = None
        for queue in self.isolating:
            if queue.name in self.pauses.paused:
                continue
            message = self.calls.ask(
                f"claim from queue {queue.name!r}",
                lambda queue=queue: queue.claim_suspect(  # type: ignore[misc]
                    self.worker_id, self.lease_seconds, now=self.now()
                ),
            )
            if message is UNANSWERED:
                return None
            if message is not None:
                logger.warning(
                    "Running message %s (%s) alone: its worker was lost when "
                    "it last ran",
                    message.id,
                    message.command,
                )
                self._alone = message.id
                self._take(queue, message)
                return 1
        self.suspects_waiting = False
        return 0

    def _take(self, queue: BaseQueue, message: Message) -> None:
        self.inflight.add(queue, message)
        self.hand_over(queue, message)

    def look_for_suspects(self) -> int | None:
        """Note whether a suspect message waits: one index lookup a queue;
        None when there was nothing to look up."""
        if not self.isolating or self.suspects_waiting:
            return None
        self.suspects_waiting = any(q.has_suspects() for q in self.isolating)
        return 1

    def reclaimed(self, count: int) -> None:
        """Messages were reclaimed: suspects may now wait."""
        if count:
            self.suspects_waiting = bool(self.isolating)
