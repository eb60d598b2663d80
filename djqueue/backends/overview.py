"""One queue at a glance: what ``queue_info``, the admin overview and the
metrics view show, read with a fixed number of backend calls per queue."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django.utils import timezone

from ..states import State
from .base import BaseQueue
from .inspection import ConsumerInfo, Throughput, minute_of
from .pausing import Pause

#: The period the throughput figures cover.
RECENT = timedelta(hours=1)


@dataclasses.dataclass(frozen=True, slots=True)
class QueueSummary:
    """What one queue reported. A part its backend does not support is
    ``None``: ``counts`` and ``oldest_queued_at`` without inspection (then
    ``oldest_queued_at`` is ``None`` anyway), ``consumers`` without presence,
    ``throughput`` without statistics; ``pause`` is ``None`` when the
    queue is not paused or cannot be (``pausable`` False)."""

    name: str
    counts: dict[State, int] | None
    oldest_queued_at: datetime | None
    consumers: list[ConsumerInfo] | None
    throughput: list[Throughput] | None
    taken_at: datetime
    pause: Pause | None = None
    pausable: bool = False

    @property
    def oldest_queued_age(self) -> timedelta | None:
        if self.oldest_queued_at is None:
            return None
        return max(self.taken_at - self.oldest_queued_at, timedelta(0))

    @property
    def recent_done(self) -> int | None:
        if self.throughput is None:
            return None
        return sum(bucket.done for bucket in self.throughput)

    @property
    def recent_failed(self) -> int | None:
        if self.throughput is None:
            return None
        return sum(bucket.failed for bucket in self.throughput)


def recent_start(now: datetime) -> datetime:
    """The first minute of the :data:`RECENT` period that ends with the
    minute of ``now`` (which is still running)."""
    return minute_of(now) - RECENT + timedelta(minutes=1)


def summarize(queue: BaseQueue, now: datetime | None = None) -> QueueSummary:
    """Read the summary of ``queue``: five backend calls at most, one for
    each part its backend supports of counts and oldest message
    (inspection, two calls), consumers (presence), throughput (statistics)
    and pause."""
    now = now or timezone.now()
    inspects = queue.supports_inspection
    return QueueSummary(
        name=queue.name,
        counts=queue.counts() if inspects else None,
        oldest_queued_at=queue.oldest_queued_at() if inspects else None,
        consumers=queue.consumers(now=now) if queue.supports_presence else None,
        throughput=(
            queue.throughput(recent_start(now), now=now)
            if queue.supports_statistics
            else None
        ),
        taken_at=now,
        pause=queue.pause_state() if queue.supports_pause else None,
        pausable=queue.supports_pause,
    )


def describe_age(age: timedelta | None) -> str:
    """``age`` in the largest fitting unit: ``"-"``, ``"42s"``, ``"5m"``, ``"3h"``,
    ``"2d"``."""
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
