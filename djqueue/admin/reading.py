"""What the admin pages read from queues, through the inspection API only.

Every read goes through ``djqueue.get_queue(name)`` and the methods of
:class:`~djqueue.backends.base.BaseQueue`; nothing here knows which backend
a queue uses. A queue that cannot be read does not break the page: its
summary carries the error instead.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime
from typing import Any

from .. import get_queue, queue_names
from ..execution import describe
from ..overview import QueueSummary, summarize
from ..states import State
from .chart import Chart, build_chart

logger = logging.getLogger("djqueue.admin")

#: The states the overview shows, in the order a message moves through them.
STATES = (
    State.QUEUED,
    State.SCHEDULED,
    State.RUNNING,
    State.FAILED,
    State.DONE,
    State.CANCELLED,
)


def parse_id(text: str) -> str | None:
    """Return ``text`` as a canonical message id, or None if it is not one."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class QueueCard:
    """One queue on the overview: its summary and chart, or why it is missing."""

    name: str
    summary: QueueSummary | None = None
    chart: Chart | None = None
    error: str = ""

    @property
    def states(self) -> list[tuple[State, int]]:
        counts = self.summary.counts if self.summary else {}
        return [(state, counts.get(state, 0)) for state in STATES]

    @property
    def consumers(self) -> list:
        return self.summary.consumers if self.summary else []


def card(name: str, now: datetime) -> QueueCard:
    """Read one queue for the overview: five backend calls
    (:func:`djqueue.overview.summarize`)."""
    try:
        summary = summarize(get_queue(name), now)
    except Exception as exc:  # the page must still show the other queues
        logger.warning("Cannot read queue %r for the admin", name, exc_info=True)
        return QueueCard(name, error=describe(exc))
    return QueueCard(name, summary, build_chart(summary.throughput, now))


def cards(now: datetime) -> list[QueueCard]:
    """Every configured queue's card, in settings order."""
    return [card(name, now) for name in queue_names()]


def alive_consumers(queue_cards: list[QueueCard]) -> list:
    """The consumers of all queues, each once, newest start first."""
    seen: dict[str, Any] = {}
    for each in queue_cards:
        for consumer in each.consumers:
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
