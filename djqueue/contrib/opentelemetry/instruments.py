"""The spans and metrics of the OpenTelemetry messaging semantic conventions.

An enqueue is a ``send <queue>`` span of kind PRODUCER, current while the
messages are built, so that the trace context it injects (with the global
propagator, W3C ``traceparent`` by default) is signed into each message's
options under :data:`CARRIER`. A run is a ``process <queue>`` span of kind
CONSUMER that links to that context. Both carry ``messaging.system``
("djqueue"), ``messaging.operation.name`` and ``.type``,
``messaging.destination.name`` (the queue) and the message id; a run that
does not succeed sets the span's status to ERROR and ``error.type``.

Metrics: ``messaging.client.sent.messages`` and
``messaging.client.consumed.messages`` (counters) and
``messaging.process.duration`` (a histogram, in seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from ...states import State

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from ...consumer.execution import Outcome
    from ...envelope.message import Message

#: The key of a message's options that holds the trace context it carries.
CARRIER = "trace"
SYSTEM = "djqueue"
#: The instrumentation scope's name.
SCOPE = "djqueue"


class Sending:
    """One enqueue's span: the options to sign and the messages built."""

    def __init__(self, span: Span, queue: str, instruments: Instruments) -> None:
        self.span = span
        self.queue = queue
        self.instruments = instruments
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        self.options: dict[str, Any] | None = {CARRIER: carrier} if carrier else None

    def built(self, messages: list[Message]) -> None:
        if len(messages) == 1:
            self.span.set_attribute("messaging.message.id", messages[0].id)
        else:
            self.span.set_attribute("messaging.batch.message_count", len(messages))
        self.instruments.sent.add(len(messages), _metric_attributes("send", self.queue))


class Instruments:
    """The tracer and meters that trace enqueues (a send tracer) and runs
    (:meth:`run`, a run tracer)."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        meter = otel_metrics.get_meter(SCOPE, meter_provider=meter_provider)
        self.sent = meter.create_counter(
            "messaging.client.sent.messages",
            unit="{message}",
            description="Number of messages enqueued.",
        )
        self.consumed = meter.create_counter(
            "messaging.client.consumed.messages",
            unit="{message}",
            description="Number of messages a worker took and ran.",
        )
        self.duration = meter.create_histogram(
            "messaging.process.duration",
            unit="s",
            description="Duration of running one message.",
        )

    @contextmanager
    def sending(self, queue: str, command: str) -> Iterator[Sending]:
        attributes = {
            **_span_attributes("send", queue),
            "djqueue.command.name": command,
        }
        with self.tracer.start_as_current_span(
            f"send {queue}", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            yield Sending(span, queue, self)

    def run(self, message: Message, run: Callable[[], Outcome]) -> Outcome:
        """Run ``run`` in a ``process`` span of ``message`` and measure it."""
        attributes: dict[str, str | int] = {
            **_span_attributes("process", message.queue),
            "messaging.message.id": message.id,
            "djqueue.command.name": message.command,
            "djqueue.message.attempt": message.attempts,
        }
        with self.tracer.start_as_current_span(
            f"process {message.queue}",
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=_links(message),
        ) as span:
            started = time.perf_counter()
            outcome = run()
            elapsed = time.perf_counter() - started
            error_type = _record(span, outcome)
        measured = _metric_attributes("process", message.queue, error_type)
        self.consumed.add(1, measured)
        self.duration.record(elapsed, measured)
        return outcome


def _record(span: Span, outcome: Outcome) -> str:
    """Set the span's outcome; return its ``error.type`` ("" on success)."""
    span.set_attribute("djqueue.outcome", str(outcome.state))
    if outcome.state == State.DONE:
        return ""
    error_type = outcome.exception or "_OTHER"
    span.set_attribute("error.type", error_type)
    span.add_event(
        "exception",
        {
            "exception.type": error_type,
            "exception.message": outcome.error,
            "exception.stacktrace": outcome.traceback,
        },
    )
    span.set_status(Status(StatusCode.ERROR, outcome.error))
    return error_type


def _links(message: Message) -> list[Link]:
    """A link to the context the message carries, if it carries one."""
    options = message.options
    carrier = options.get(CARRIER) if isinstance(options, dict) else None
    if not isinstance(carrier, dict):
        return []
    context = propagate.extract(carrier)
    span_context = trace.get_current_span(context).get_span_context()
    return [Link(span_context)] if span_context.is_valid else []


def _span_attributes(operation: str, queue: str) -> dict[str, str]:
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.name": operation,
        "messaging.operation.type": operation,
        "messaging.destination.name": queue,
    }


def _metric_attributes(
    operation: str, queue: str, error_type: str = ""
) -> dict[str, str]:
    attributes = {
        "messaging.system": SYSTEM,
        "messaging.operation.name": operation,
        "messaging.destination.name": queue,
    }
    if error_type:
        attributes["error.type"] = error_type
    return attributes
