"""What the consumer's main thread does between claims, and when.

Renew the leases of running messages, read which queues are paused,
promote scheduled messages that are due, reclaim messages whose lease
expired, expire messages not started by their deadline, delete expired
results. Each step asks every queue the consumer serves and returns how
many messages it moved, or ``None`` when it had nothing to ask.
:class:`Housekeeping`, mixed into the consumer, runs each step when it is
due, as a guarded backend call (a step that fails counts towards an
outage, logged once, and runs again when next due), and keeps systemd's
watchdog fed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from .. import signals
from ..backends.base import BaseQueue
from .inflight import InFlight
from .part import ConsumerPart
from .pauses import PAUSE_CHECK_INTERVAL

logger = logging.getLogger("djqueue.consumer")

#: Seconds between promotions of due scheduled messages: a message runs at
#: most about this late.
PROMOTE_INTERVAL = 0.5
PURGE_INTERVAL = 60.0
#: Seconds between expiries of messages not started by their deadline: the
#: admin shows one expired at most about this late (a claim never runs it).
EXPIRE_INTERVAL = 1.0


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
    """Reclaim expired leases; send ``message_failed`` (``reclaimed=True``)
    for each message that used its last attempt and failed for good."""
    reclaimed = 0
    for queue in queues:
        taken, failed = queue.reclaim(now=now)
        reclaimed += taken
        if failed and signals.message_failed.receivers:
            for message in filter(None, map(queue.get, failed)):
                signals.send(
                    signals.message_failed,
                    message,
                    error=message.error,
                    traceback="",
                    reclaimed=True,
                )
    if reclaimed:
        logger.warning("Reclaimed %d message(s) whose lease expired", reclaimed)
    return reclaimed


def expire_all(queues: Sequence[BaseQueue], now: datetime) -> int | None:
    """Move the messages not started by their deadline to expired, a
    bounded batch a queue, and send ``message_expired`` for each; None when
    no queue keeps deadlines."""
    expiring = [queue for queue in queues if queue.supports_expiry]
    if not expiring:
        return None
    expired = 0
    for queue in expiring:
        ids = queue.expire_due(now=now)
        expired += len(ids)
        if ids and signals.message_expired.receivers:
            for message in filter(None, map(queue.get, ids)):
                signals.send(signals.message_expired, message, error=message.error)
    if expired:
        logger.info("Expired %d message(s) not started by their deadline", expired)
    return expired


def purge_all(queues: Sequence[BaseQueue], now: datetime) -> int:
    return sum(queue.purge_expired(now=now) for queue in queues)


class Housekeeping(ConsumerPart):
    """Mixed into ``Consumer``: the steps between claims, each when due on
    the consumer's :class:`Schedule`, and systemd's watchdog."""

    def _maintain(self) -> None:
        """Run the steps that are due; one that fails never stops the loop.

        Once the consumer is stopping, the steps left are skipped: each would
        spend the few seconds that a stop gives the backend calls under way
        (on a slow machine, the steps of a new consumer's first round
        did, and the last was abandoned as if the backend did not answer).
        """
        every = self._schedule.every

        def guarded(what: str, action: Callable[[], int | None]) -> None:
            if not self._stopping.is_set():
                self.calls.guarded(what, action)

        self._watchdog()
        if every("heartbeat", self.heartbeat_interval):
            guarded("heartbeat", self._heartbeat)
            guarded("register the consumer", self.presence.announce)
        if every("pauses", PAUSE_CHECK_INTERVAL):
            guarded("read the pauses of the queues", self.claimer.pauses.read)
        if every("promote", PROMOTE_INTERVAL):
            guarded("promote", self._promote)
            guarded("look for suspect messages", self.claimer.look_for_suspects)
            if self._ticks is not None:
                # Only a tick written proves that the backend answered.
                ticks = self._ticks
                guarded("write periodic ticks", lambda: ticks.write(self.now()) or None)
        if every("reclaim", min(self.lease_seconds / 2, 5.0)):
            guarded("reclaim", self._reclaim)
        if every("expire", EXPIRE_INTERVAL):
            guarded("expire", lambda: expire_all(self.queues, self.now()))
        if every("purge", PURGE_INTERVAL):
            guarded("purge", lambda: purge_all(self.queues, self.now()))

    def _heartbeat(self) -> int | None:
        return renew_leases(self.inflight, self.lease_seconds, self.now())

    def _promote(self) -> int:
        return promote_all(self.queues, self.now())

    def _reclaim(self) -> int:
        reclaimed = reclaim_all(self.queues, self.now())
        self.claimer.reclaimed(reclaimed)
        return reclaimed

    def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval and self._ready and self._schedule.every("watchdog", interval):
            self.notifier.watchdog()

    def _feed_watchdog(self) -> None:
        """From the call watch, while the main thread waits on the backend:
        the process is healthy and honours SIGTERM, and a restart would not
        make the backend answer, so systemd's watchdog stays fed."""
        interval = self.notifier.watchdog_interval
        if interval and self._ready and time.monotonic() >= self._watchdog_fed:
            self._watchdog_fed = time.monotonic() + interval
            self.notifier.watchdog()
