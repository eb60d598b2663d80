"""What the admin pages read from queues, through the inspection API only.

Every read goes through a :class:`Reader`, which asks each queue's
:meth:`~djqueue.backends.base.BaseQueue.for_inspection` twin, so a call to a
server that hangs or refuses fails within the queue's bound; nothing here
knows which backend a queue uses. A queue that cannot be read does not break
the page: it is shown as unavailable, with the error, and is not asked again
while the page is built.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ..backends.base import BaseQueue
from ..backends.handler import get_queue, queue_names
from ..backends.inspection import ConsumerInfo
from ..backends.overview import QueueSummary, summarize
from ..backends.pausing import Pause
from ..envelope.message import Message
from ..exceptions import describe
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
    State.EXPIRED,
)


def parse_id(text: str) -> str | None:
    """Return ``text`` as a canonical message id, or None if it is not one."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        return None


T = TypeVar("T")


class QueueUnavailable(Exception):
    """A queue could not be read during this request; ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"Queue {name!r} cannot be read: {reason}")
        self.name = name
        self.reason = reason


class Reader:
    """The queues as one admin request reads them.

    Each call goes to the queue's inspection twin. The first call that
    fails marks the queue unavailable: later calls in the same request raise
    :exc:`QueueUnavailable` at once instead of waiting for the server again.
    """

    def __init__(self) -> None:
        #: Queue name to the error that made it unavailable.
        self.unavailable: dict[str, str] = {}

    def supports(self, name: str, flag: str) -> bool:
        """Whether the backend of queue ``name`` has the optional part of
        ``flag`` (a ``supports_*`` attribute). A queue that cannot be built
        counts as having it, so that reading it says why it is unavailable."""
        try:
            return bool(getattr(get_queue(name), flag))
        except Exception:
            return True

    def read(self, name: str, call: Callable[[BaseQueue], T]) -> T:
        """Return ``call(queue)`` or raise :exc:`QueueUnavailable`."""
        if name in self.unavailable:
            raise QueueUnavailable(name, self.unavailable[name])
        try:
            return call(get_queue(name).for_inspection())
        except Exception as exc:  # the page must still show the other queues
            logger.warning("Cannot read queue %r for the admin", name, exc_info=True)
            self.unavailable[name] = describe(exc)
            raise QueueUnavailable(name, self.unavailable[name]) from exc


@dataclasses.dataclass(frozen=True, slots=True)
class QueueCard:
    """One queue on the overview: its summary and chart, or why it is missing."""

    name: str
    summary: QueueSummary | None = None
    chart: Chart | None = None
    error: str = ""

    @property
    def states(self) -> list[tuple[State, int]]:
        counts = (self.summary.counts if self.summary else None) or {}
        return [(state, counts.get(state, 0)) for state in STATES]

    @property
    def inspected(self) -> bool:
        """Whether the backend counts and lists messages (inspection)."""
        return self.summary is not None and self.summary.counts is not None

    @property
    def count_of(self) -> dict[str, int]:
        """The count of each state by its value (for templates and JSON)."""
        return {state.value: count for state, count in self.states}

    @property
    def latency(self) -> float | None:
        """Seconds the oldest ready message has waited (0 when none waits),
        or None without inspection."""
        if not self.inspected or self.summary is None:
            return None
        age = self.summary.oldest_queued_age
        return 0.0 if age is None else age.total_seconds()

    @property
    def consumers(self) -> list[ConsumerInfo]:
        return (self.summary.consumers if self.summary else None) or []

    @property
    def tracks_consumers(self) -> bool:
        """Whether the backend keeps track of its consumers (presence)."""
        return self.summary is not None and self.summary.consumers is not None

    @property
    def stranded(self) -> int:
        """How many messages are ready with no live consumer to run them
        (0 when the backend cannot tell: no counts or no presence)."""
        if not (self.inspected and self.tracks_consumers) or self.consumers:
            return 0
        return dict(self.states).get(State.QUEUED, 0)


def card(reader: Reader, name: str, now: datetime) -> QueueCard:
    """Read one queue for the overview: four backend calls
    (:func:`djqueue.backends.overview.summarize`)."""
    try:
        summary = reader.read(name, lambda queue: summarize(queue, now))
    except QueueUnavailable as exc:
        return QueueCard(name, error=exc.reason)
    if summary.throughput is None:
        return QueueCard(name, summary)
    return QueueCard(name, summary, build_chart(summary.throughput, now))


def cards(reader: Reader, now: datetime) -> list[QueueCard]:
    """Every configured queue's card, in settings order."""
    return [card(reader, name, now) for name in queue_names()]


def alive_consumers(queue_cards: list[QueueCard]) -> list[ConsumerInfo]:
    """The consumers of all queues, each once, newest start first."""
    seen: dict[str, ConsumerInfo] = {}
    for each in queue_cards:
        for consumer in each.consumers:
            seen.setdefault(consumer.id, consumer)
    return sorted(seen.values(), key=lambda c: c.started_at, reverse=True)


def find_message(
    reader: Reader, message_id: str, names: list[str] | None = None
) -> Message | None:
    """Return the first message with ``message_id`` on the given queues
    (every queue by default), or None: one ``get`` per queue at most, none
    for a queue that is unavailable (see ``reader.unavailable``)."""
    for name in names if names is not None else queue_names():
        try:
            message = reader.read(name, lambda queue: queue.get(message_id))
        except QueueUnavailable:
            continue
        if message is not None:
            return message
    return None


def read_pause(reader: Reader, name: str) -> tuple[Pause | None, bool]:
    """The pause of queue ``name`` and whether it can be paused: one read,
    none for a backend without pauses; an unavailable queue counts as not
    paused (the page says it cannot be read)."""
    if not reader.supports(name, "supports_pause"):
        return None, False
    try:
        return reader.read(name, lambda queue: queue.pause_state()), True
    except QueueUnavailable:
        return None, False
