"""What the admin pages read from queues, through the inspection API only.

Every read goes through ``djqueue.get_queue(name)`` and the methods of
:class:`~djqueue.backends.base.BaseQueue`; nothing here knows which backend
a queue uses. A queue that cannot be reached does not break the page: its
summary carries the error instead. Calls a backend does not implement
(``NotImplementedError``) read as :data:`UNSUPPORTED`.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from .. import get_queue, queue_names
from ..execution import describe
from ..states import State
from .chart import Chart, build_chart, hour_start

logger = logging.getLogger("djqueue.admin")


class _Unsupported:
    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSUPPORTED"


#: The value of a call the queue's backend does not implement.
UNSUPPORTED: Any = _Unsupported()

#: The states the overview shows, in the order a message moves through them.
STATES = (
    State.QUEUED,
    State.SCHEDULED,
    State.RUNNING,
    State.FAILED,
    State.DONE,
    State.CANCELLED,
)


def optional(queue, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call an inspection method the backend may not implement."""
    function = getattr(queue, method, None)
    if function is None:
        return UNSUPPORTED
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        return UNSUPPORTED


def parse_id(text: str) -> str | None:
    """Return ``text`` as a canonical message id, or None if it is not one."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        return None


@dataclasses.dataclass(slots=True)
class QueueSummary:
    """One queue on the overview: counts, age of the oldest, chart, consumers."""

    name: str
    counts: dict[State, int] = dataclasses.field(default_factory=dict)
    oldest_queued_at: datetime | None = None
    oldest_age: timedelta | None = None
    #: Whether the backend tells the oldest queued message's age.
    oldest_known: bool = False
    chart: Chart | None = None
    consumers: list = dataclasses.field(default_factory=list)
    error: str = ""

    @property
    def states(self) -> list[tuple[State, int]]:
        return [(state, self.counts.get(state, 0)) for state in STATES]


def summarize(name: str, now: datetime) -> QueueSummary:
    """Read one queue's summary: a fixed number of backend calls."""
    summary = QueueSummary(name)
    try:
        queue = get_queue(name)
        summary.counts = queue.counts()
        oldest = optional(queue, "oldest_queued_at")
        summary.oldest_known = oldest is not UNSUPPORTED
        if oldest:
            summary.oldest_queued_at = oldest
            summary.oldest_age = max(now - oldest, timedelta(0))
        buckets = optional(queue, "throughput", since=hour_start(now), now=now)
        if buckets is not UNSUPPORTED:
            summary.chart = build_chart(buckets, now)
        consumers = optional(queue, "consumers", now=now)
        summary.consumers = [] if consumers is UNSUPPORTED else list(consumers)
    except Exception as exc:  # the page must show the other queues
        logger.warning("Cannot read queue %r for the admin", name, exc_info=True)
        summary.error = describe(exc)
    return summary


def summarize_all(now: datetime) -> list[QueueSummary]:
    """Every configured queue's summary, in settings order."""
    return [summarize(name, now) for name in queue_names()]


def alive_consumers(summaries: list[QueueSummary]) -> list:
    """The consumers of all queues, each once, newest start first."""
    seen: dict[str, Any] = {}
    for summary in summaries:
        for consumer in summary.consumers:
            seen.setdefault(consumer.id, consumer)
    return sorted(seen.values(), key=lambda c: c.started_at, reverse=True)


def find_message(message_id: str, names: list[str] | None = None):
    """Return the first message with ``message_id`` on the given queues
    (every queue by default), or None: one ``get`` per queue at most."""
    for name in names if names is not None else queue_names():
        message = get_queue(name).get(message_id)
        if message is not None:
            return message
    return None
