"""OpenTelemetry spans and metrics follow the messaging semantic conventions:
a PRODUCER ``send <queue>`` span per enqueue, whose context each message
carries, signed, to a CONSUMER ``process <queue>`` span that links to it."""

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from djqueue import State, get_queue
from djqueue.consumer import Consumer
from djqueue.contrib import opentelemetry as djqueue_otel
from djqueue.contrib.opentelemetry.instruments import CARRIER
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


class Telemetry:
    def __init__(self):
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])

    def finished(self, kind):
        return [s for s in self.spans.get_finished_spans() if s.kind == kind]

    def points(self, name):
        data = self.metrics.get_metrics_data()
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
def telemetry():
    recorded = Telemetry()
    djqueue_otel.install(recorded.tracer_provider, recorded.meter_provider)
    yield recorded
    djqueue_otel.uninstall()


def linked(span):
    """The (trace id, span id) of each span a span links to."""
    return [(link.context.trace_id, link.context.span_id) for link in span.links]


def ids(span):
    return (span.context.trace_id, span.context.span_id)


def drain():
    Consumer(["default"], 1, burst=True, periodic=False).run()


def test_a_run_links_to_the_enqueue_that_sent_it(telemetry):
    result = commands.add(1, 2)
    drain()

    assert result.get(timeout=0) == 3
    (send,) = telemetry.finished(SpanKind.PRODUCER)
    (process,) = telemetry.finished(SpanKind.CONSUMER)
    assert send.name == "send default"
    assert dict(send.attributes) == {
        "messaging.system": "djqueue",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "default",
        "messaging.message.id": result.id,
        "djqueue.command.name": commands.add.name,
    }
    assert process.name == "process default"
    assert linked(process) == [ids(send)]
    assert process.parent is None
    assert dict(process.attributes) == {
        "messaging.system": "djqueue",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.destination.name": "default",
        "messaging.message.id": result.id,
        "djqueue.command.name": commands.add.name,
        "djqueue.message.attempt": 1,
        "djqueue.outcome": "done",
    }
    assert process.status.status_code == StatusCode.UNSET


def test_the_trace_context_travels_signed_in_the_message_options(telemetry):
    result = commands.add(1, 2)

    stored = get_queue().get(result.id)
    (send,) = telemetry.finished(SpanKind.PRODUCER)
    traceparent = stored.options[CARRIER]["traceparent"]
    assert traceparent.split("-")[1] == f"{send.context.trace_id:032x}"
    assert traceparent.split("-")[2] == f"{send.context.span_id:016x}"


def test_a_failed_run_sets_the_error_status_and_type(telemetry):
    result = commands.fail("on purpose")
    drain()

    assert get_queue().get(result.id).state == State.FAILED
    (process,) = telemetry.finished(SpanKind.CONSUMER)
    assert process.status.status_code == StatusCode.ERROR
    assert process.attributes["error.type"] == "builtins.ValueError"
    assert process.attributes["djqueue.outcome"] == "failed"
    (event,) = process.events
    assert event.name == "exception"
    assert "on purpose" in event.attributes["exception.message"]
    (consumed,) = telemetry.points("messaging.client.consumed.messages")
    assert consumed.attributes["error.type"] == "builtins.ValueError"


def test_a_bulk_enqueue_is_one_send_span_and_counts_each_message(telemetry):
    results = commands.add.map([(1, 1), (2, 2), (3, 3)])
    drain()

    (send,) = telemetry.finished(SpanKind.PRODUCER)
    assert send.attributes["messaging.batch.message_count"] == 3
    assert "messaging.message.id" not in send.attributes
    processes = telemetry.finished(SpanKind.CONSUMER)
    assert sorted(p.attributes["messaging.message.id"] for p in processes) == sorted(
        r.id for r in results
    )
    assert [linked(p) for p in processes] == [[ids(send)]] * 3
    (sent,) = telemetry.points("messaging.client.sent.messages")
    assert sent.value == 3
    assert dict(sent.attributes) == {
        "messaging.system": "djqueue",
        "messaging.operation.name": "send",
        "messaging.destination.name": "default",
    }
    (consumed,) = telemetry.points("messaging.client.consumed.messages")
    assert consumed.value == 3
    (duration,) = telemetry.points("messaging.process.duration")
    assert duration.count == 3
    assert dict(duration.attributes) == {
        "messaging.system": "djqueue",
        "messaging.operation.name": "process",
        "messaging.destination.name": "default",
    }


def test_without_the_integration_messages_carry_no_trace_context():
    result = commands.add(1, 2)

    assert CARRIER not in get_queue().get(result.id).options


def test_the_setting_installs_the_integration_when_the_app_is_ready(settings):
    from djqueue.apps import install_integrations
    from djqueue.commands import enqueue
    from djqueue.consumer import execution

    settings.QUEUE_OPENTELEMETRY = True
    try:
        install_integrations()
        assert enqueue.send_tracers
        assert execution.run_tracers
    finally:
        djqueue_otel.uninstall()


def test_a_django_tasks_enqueue_is_sent_and_its_run_linked_to_it(telemetry):
    """A Task enqueued through djqueue's django.tasks backend gets its send
    span too, and its run links to it, as a command's does."""
    tasks = pytest.importorskip(
        "testproject.demo.tasks", reason="the tasks framework is not installed"
    )
    result = tasks.multiply.enqueue(6, 7)
    drain()

    assert get_queue().get(result.id).state == State.DONE
    (send,) = telemetry.finished(SpanKind.PRODUCER)
    (process,) = telemetry.finished(SpanKind.CONSUMER)
    assert send.name == "send default"
    assert send.attributes["messaging.message.id"] == result.id
    assert linked(process) == [ids(send)]
