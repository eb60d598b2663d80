"""Spans by the conventions of Sentry's queue module, and cron check-ins.

An enqueue is a ``queue.publish`` span, whose trace (``sentry-trace`` and
``baggage``) is signed into each message's options under :data:`CARRIER`.
A run continues that trace in a transaction of its own
(``queue.task.djqueue``, named after the command) holding a
``queue.process`` span; both carry ``messaging.message.id``,
``messaging.destination.name`` (the queue) and ``messaging.system``, and
the run adds ``messaging.message.retry.count`` and
``messaging.message.receive.latency`` (milliseconds since the message was
due). A run of a periodic command is also a cron check-in of the monitor
named after the command, with its schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sentry_sdk
from django.utils import timezone
from django.utils.text import slugify
from sentry_sdk.crons import MonitorStatus, capture_checkin

from ...commands.periodic import Periodic, periodic_commands
from ...states import State

if TYPE_CHECKING:
    from sentry_sdk.tracing import Span

    from ...consumer.execution import Outcome
    from ...envelope.message import Message

#: The key of a message's options that holds the Sentry trace it carries.
CARRIER = "sentry"
SYSTEM = "djqueue"


class Publishing:
    """One enqueue's ``queue.publish`` span and the trace it passes on."""

    def __init__(self, span: Span) -> None:
        self.span = span
        carrier = {
            "sentry-trace": sentry_sdk.get_traceparent(),
            "baggage": sentry_sdk.get_baggage(),
        }
        found = {key: value for key, value in carrier.items() if value}
        self.options: dict[str, Any] | None = {CARRIER: found} if found else None

    def built(self, messages: list[Message]) -> None:
        if len(messages) == 1:
            self.span.set_data("messaging.message.id", messages[0].id)
        else:
            self.span.set_data("messaging.batch.message_count", len(messages))


class SentryQueues:
    """A send tracer (:meth:`sending`) and a run tracer (:meth:`run`)."""

    @contextmanager
    def sending(self, queue: str, command: str) -> Iterator[Publishing]:
        with sentry_sdk.start_span(op="queue.publish", name=command) as span:
            span.set_data("messaging.system", SYSTEM)
            span.set_data("messaging.destination.name", queue)
            yield Publishing(span)

    def run(self, message: Message, run: Callable[[], Outcome]) -> Outcome:
        """Run ``run`` in a transaction continuing the message's trace."""
        periodic = _periodic(message.command)
        check_in = _check_in(periodic, MonitorStatus.IN_PROGRESS) if periodic else None
        started = time.perf_counter()
        with sentry_sdk.isolation_scope():
            transaction = sentry_sdk.continue_trace(
                _carrier(message),
                op="queue.task.djqueue",
                name=message.command,
                source="task",
            )
            with sentry_sdk.start_transaction(transaction):
                with sentry_sdk.start_span(
                    op="queue.process", name=message.command
                ) as span:
                    _describe(span, message)
                    outcome = run()
                    status = "ok" if outcome.state == State.DONE else "internal_error"
                    span.set_status(status)
                transaction.set_status(status)
        if periodic:
            done = MonitorStatus.OK if status == "ok" else MonitorStatus.ERROR
            _check_in(periodic, done, check_in, time.perf_counter() - started)
        return outcome


def _describe(span: Span, message: Message) -> None:
    span.set_data("messaging.system", SYSTEM)
    span.set_data("messaging.message.id", message.id)
    span.set_data("messaging.destination.name", message.queue)
    span.set_data("messaging.message.retry.count", max(message.attempts - 1, 0))
    if message.eta is not None:
        waited = (timezone.now() - message.eta).total_seconds() * 1000
        span.set_data("messaging.message.receive.latency", max(waited, 0.0))


def _carrier(message: Message) -> dict[str, str]:
    options = message.options
    carrier = options.get(CARRIER) if isinstance(options, dict) else None
    if not isinstance(carrier, dict):
        return {}
    return {key: value for key, value in carrier.items() if isinstance(value, str)}


def _periodic(command: str) -> Periodic | None:
    for entry in periodic_commands():
        if entry.command.name == command:
            return entry
    return None


def monitor_slug(command: str) -> str:
    """The slug of a periodic command's cron monitor."""
    return slugify(command.replace(".", "-").replace("_", "-"))


def monitor_config(periodic: Periodic) -> dict[str, Any]:
    """The monitor's schedule: the cron expression, or the interval in
    minutes (an interval of seconds that are not whole minutes has none)."""
    schedule = periodic.schedule
    config: dict[str, Any] = {"timezone": str(schedule.zone)}
    if schedule.cron is not None:
        config["schedule"] = {"type": "crontab", "value": schedule.cron}
    elif schedule.every is not None and schedule.every.total_seconds() % 60 == 0:
        minutes = int(schedule.every.total_seconds() // 60)
        config["schedule"] = {"type": "interval", "value": minutes, "unit": "minute"}
    return config


def _check_in(
    periodic: Periodic,
    status: str,
    check_in_id: str | None = None,
    duration: float | None = None,
) -> str | None:
    return capture_checkin(
        monitor_slug=monitor_slug(periodic.command.name),
        check_in_id=check_in_id,
        status=status,
        duration=duration,
        # A plain dict: sentry-sdk's MonitorConfig is a TypedDict of a
        # private module (sentry_sdk._types), with every key required.
        monitor_config=monitor_config(periodic),  # type: ignore[arg-type]
    )
