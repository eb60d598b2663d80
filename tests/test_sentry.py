"""Sentry's queue module sees djqueue: a ``queue.publish`` span per enqueue,
a ``queue.task.djqueue`` transaction with a ``queue.process`` span per run
continuing the enqueue's trace, and a cron check-in per periodic run."""

from datetime import timedelta

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from djqueue import get_queue, registry
from djqueue.commands.periodic import _periodic, periodic_command
from djqueue.consumer import Consumer
from djqueue.contrib import sentry as djqueue_sentry
from djqueue.contrib.sentry.queues import CARRIER, monitor_slug
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


class Capture(Transport):
    def __init__(self):
        super().__init__()
        self.items = []

    def capture_envelope(self, envelope):
        self.items += [(item.type, item.payload.json) for item in envelope.items]

    def of(self, kind):
        return [payload for found, payload in self.items if found == kind]


@pytest.fixture
def sentry():
    transport = Capture()
    sentry_sdk.init(
        dsn="https://key@sentry.invalid/1",
        transport=transport,
        traces_sample_rate=1.0,
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    djqueue_sentry.install()
    yield transport
    djqueue_sentry.uninstall()
    sentry_sdk.get_client().close()
    # Back to no client, without the integrations a bare init() would patch in.
    sentry_sdk.get_global_scope().set_client(None)


def drain():
    Consumer(["default"], 1, burst=True, periodic=False).run()


def spans(transaction, op):
    return [span for span in transaction["spans"] if span["op"] == op]


def test_a_run_continues_the_trace_of_its_enqueue(sentry):
    with sentry_sdk.start_transaction(op="http.server", name="a view"):
        result = commands.add(1, 2)
    drain()

    view, run = sorted(
        sentry.of("transaction"), key=lambda t: t["transaction"] != "a view"
    )
    (publish,) = spans(view, "queue.publish")
    assert publish["description"] == commands.add.name
    assert publish["data"]["messaging.message.id"] == result.id
    assert publish["data"]["messaging.destination.name"] == "default"
    assert run["transaction"] == commands.add.name
    assert run["contexts"]["trace"]["op"] == "queue.task.djqueue"
    assert run["contexts"]["trace"]["trace_id"] == view["contexts"]["trace"]["trace_id"]
    assert run["contexts"]["trace"]["parent_span_id"] == publish["span_id"]
    (process,) = spans(run, "queue.process")
    assert process["status"] == "ok"
    assert process["data"]["messaging.message.id"] == result.id
    assert process["data"]["messaging.destination.name"] == "default"
    assert process["data"]["messaging.message.retry.count"] == 0
    assert process["data"]["messaging.message.receive.latency"] >= 0
    assert CARRIER in get_queue().get(result.id).options


def test_a_failed_run_has_an_error_status(sentry):
    commands.fail("on purpose")
    drain()

    (run,) = sentry.of("transaction")
    assert run["contexts"]["trace"]["status"] == "internal_error"
    assert spans(run, "queue.process")[0]["status"] == "internal_error"


@pytest.fixture
def every_five_minutes():
    command = periodic_command(every=timedelta(minutes=5), name="tests.sentry_beat")(
        lambda: "beat"
    )
    yield command
    _periodic.pop(command.name)
    registry.unregister(command.name)


def test_a_periodic_run_is_a_cron_check_in(sentry, every_five_minutes):
    every_five_minutes()
    drain()

    started, finished = sentry.of("check_in")
    assert started["monitor_slug"] == monitor_slug("tests.sentry_beat")
    assert started["status"] == "in_progress"
    assert started["monitor_config"]["schedule"] == {
        "type": "interval",
        "value": 5,
        "unit": "minute",
    }
    assert finished["check_in_id"] == started["check_in_id"]
    assert finished["status"] == "ok"


def test_a_command_that_is_not_periodic_checks_in_nothing(sentry):
    commands.add(1, 1)
    drain()

    assert sentry.of("check_in") == []


def test_with_opentelemetry_too_a_message_carries_both_traces(sentry):
    from opentelemetry.sdk.trace import TracerProvider

    from djqueue.contrib import opentelemetry as djqueue_otel
    from djqueue.contrib.opentelemetry.instruments import CARRIER as OTEL_CARRIER

    djqueue_otel.install(tracer_provider=TracerProvider())
    try:
        result = commands.add(1, 2)
        drain()
    finally:
        djqueue_otel.uninstall()

    options = get_queue().get(result.id).options
    assert set(options[OTEL_CARRIER]) == {"traceparent"}
    assert "sentry-trace" in options[CARRIER]
    assert result.get(timeout=0) == 3
    assert len(sentry.of("transaction")) == 1
