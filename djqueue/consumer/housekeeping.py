"""What the consumer's main thread does between claims, and when.

Renew the leases of running messages, promote scheduled messages that are
due, reclaim messages whose lease expired, delete expired results. Each step
asks every queue the consumer serves and returns how many messages it moved,
or ``None`` when it had nothing to ask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from ..backends.base import BaseQueue
from .inflight import InFlight

logger = logging.getLogger("djqueue.consumer")

#: Seconds between promotions of due scheduled messages: a message runs at
#: most about this late.
PROMOTE_INTERVAL = 0.5
PURGE_INTERVAL = 60.0


class Schedule:
    """When each named step is next due, on ``clock`` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._due: dict[str, float] = {}

    def every(self, name: str, interval: float) -> bool:
        """Whether ``name`` is due; if so, it is next due ``interval`` later."""
        now = self.clock()
        if now < self._due.get(name, 0):
            return False
        self._due[name] = now + interval
        return True

    def until(self, name: str) -> float:
        """Seconds until ``name`` is due (0 if it is)."""
        return max(self._due.get(name, 0) - self.clock(), 0.0)


def renew_leases(inflight: InFlight, lease_seconds: float, now: datetime) -> int | None:
    """Extend the leases of the messages in flight; None if there are none."""
    by_queue = inflight.by_queue()
    if not by_queue:
        return None
    return sum(
        queue.extend(messages, lease_seconds, now=now)
        for queue, messages in by_queue.items()
    )


def promote_all(queues: Sequence[BaseQueue], now: datetime) -> int:
    return sum(queue.promote_due(now=now) for queue in queues)


def reclaim_all(queues: Sequence[BaseQueue], now: datetime) -> int:
    reclaimed = sum(queue.reclaim_expired(now=now) for queue in queues)
    if reclaimed:
        logger.warning("Reclaimed %d message(s) whose lease expired", reclaimed)
    return reclaimed


def purge_all(queues: Sequence[BaseQueue], now: datetime) -> int:
    return sum(queue.purge_expired(now=now) for queue in queues)
