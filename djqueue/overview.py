"""One queue at a glance: what ``queue_info``, the admin overview and the
metrics view show, read with a fixed number of backend calls per queue."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django.utils import timezone

from .backends.base import BaseQueue
from .inspection import ConsumerInfo, Throughput, minute_of
from .states import State

#: The period the throughput figures cover.
RECENT = timedelta(hours=1)


@dataclasses.dataclass(frozen=True, slots=True)
class QueueSummary:
    name: str
    counts: dict[State, int]
    oldest_queued_at: datetime | None
    consumers: list[ConsumerInfo]
    throughput: list[Throughput]
    taken_at: datetime

    @property
    def oldest_queued_age(self) -> timedelta | None:
        if self.oldest_queued_at is None:
            return None
        return max(self.taken_at - self.oldest_queued_at, timedelta(0))

    @property
    def recent_done(self) -> int:
        return sum(bucket.done for bucket in self.throughput)

    @property
    def recent_failed(self) -> int:
        return sum(bucket.failed for bucket in self.throughput)


def recent_start(now: datetime) -> datetime:
    """The first minute of the :data:`RECENT` period that ends with the
    minute of ``now`` (which is still running)."""
    return minute_of(now) - RECENT + timedelta(minutes=1)


def summarize(queue: BaseQueue, now: datetime | None = None) -> QueueSummary:
    """Read the summary of ``queue``: four backend calls."""
    now = now or timezone.now()
    return QueueSummary(
        name=queue.name,
        counts=queue.counts(),
        oldest_queued_at=queue.oldest_queued_at(),
        consumers=queue.consumers(now=now),
        throughput=queue.throughput(recent_start(now), now=now),
        taken_at=now,
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
