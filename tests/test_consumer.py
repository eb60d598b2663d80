"""The consumer, run in this process against the configured database."""

import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.signals import connection_created
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.consumer import Consumer
from djqueue.consumer.outages import FORCED_CALL_WAIT, STOP_CALL_WAIT
from djqueue.db import close_old_connections
from djqueue.envelope.signing import sign_payload
from testproject.demo import commands
from testproject.demo.models import Report, Run

from .factories import make_message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

ADD = "testproject.demo.commands.add"


def drain(**options):
    consumer = Consumer(
        ["default"], options.pop("concurrency", 2), burst=True, **options
    )
    consumer.run()
    return consumer


def test_burst_runs_everything_ready_and_keeps_results():
    report = Report.objects.create(title="r", words=4)
    results = [commands.add(i, i) for i in range(10)] + [commands.churn_data(report)]

    consumer = drain()

    assert consumer.processed == 11
    assert [r.get(timeout=0) for r in results[:10]] == [2 * i for i in range(10)]
    assert results[10].get(timeout=0) == {"report": report.pk, "churned": 6}
    report.refresh_from_db()
    assert report.churned == 6
    assert get_queue().counts()[State.DONE] == 11


def test_one_worker_runs_in_priority_order():
    labels = [(f"p{p}-{i}", p) for i in range(3) for p in (0, 5, -2)]
    for label, priority in labels:
        commands.record_run.using(priority=priority)(label)

    drain(concurrency=1)

    ran = list(Run.objects.order_by("id").values_list("label", flat=True))
    assert ran == [label for label, _ in sorted(labels, key=lambda lp: -lp[1])]


def test_failures_retry_then_land_in_failed_with_traceback():
    flaky, failing = commands.flaky("f"), commands.fail("boom")

    drain()

    assert flaky.get(timeout=0) == 3
    assert failing.status == State.FAILED
    message = failing.message
    assert message.error == "ValueError: boom"
    assert "raise ValueError(reason)" in message.traceback
    assert message.attempts == 1


def _signed(command, payload, serializer="json"):
    message = make_message(command, payload=payload, serializer=serializer)
    message.signature = sign_payload(
        message.id, command, serializer, payload, options=message.options
    )
    return message


def test_bad_input_fails_with_a_reason_and_the_consumer_goes_on():
    queue = get_queue()
    report = Report.objects.create(title="soon gone")
    gone = commands.churn_data(report)
    report.delete()
    tampered = make_message(ADD, args=(1, 2))
    tampered.payload = "[[100,200],{}]"
    bad = {
        "unknown command": make_message("nobody.registered.this", args=(1,)),
        "tampered": tampered,
        "not json": _signed(ADD, "{{{"),
        "wrong arity": _signed(ADD, "[[1,2,3],{}]"),
        "pickle not enabled": _signed(ADD, "gASVBAAAAAAAAABLAS4=", serializer="pickle"),
    }
    for message in bad.values():
        queue.write(message)
    good = commands.add(20, 22)

    drain(concurrency=1)

    reasons = {name: queue.get(m.id).error for name, m in bad.items()}
    assert all(queue.get(m.id).state == State.FAILED for m in bad.values())
    assert (
        "no command is registered as 'nobody.registered.this'"
        in reasons["unknown command"]
    )
    assert "signature does not match" in reasons["tampered"]
    assert "not valid JSON" in reasons["not json"]
    assert "do not match the signature" in reasons["wrong arity"]
    assert "serializer 'pickle'" in reasons["pickle not enabled"]
    assert gone.status == State.FAILED
    assert "no longer exists" in gone.error
    assert good.get(timeout=0) == 42


def test_stop_lets_running_messages_finish():
    result = commands.record_run("graceful", seconds=0.5)
    consumer = Consumer(["default"], 1, grace_period=10)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    _wait_for(lambda: Run.objects.filter(label="graceful").exists())

    consumer.stop()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert result.get(timeout=0) is not None
    assert Run.objects.get(label="graceful").finished


def test_a_second_stop_leaves_the_call_under_way_time_for_its_answer():
    """A second stop (release now) abandons a backend call under way only
    FORCED_CALL_WAIT seconds later, and never later than the first stop
    allowed: a healthy server's answer to it (the purge of a consumer still
    starting, say) is not taken for an outage."""
    consumer = Consumer(["default"], 1)
    clock = "djqueue.consumer.consumer.time.monotonic"
    with mock.patch(clock, return_value=100.0):
        consumer.stop()
    assert consumer.watch.deadline == 100.0 + STOP_CALL_WAIT
    with mock.patch(clock, return_value=100.5):
        consumer.stop()
    assert consumer.watch.deadline == 100.5 + FORCED_CALL_WAIT
    with mock.patch(clock, return_value=101.2):
        consumer.stop()
    assert consumer.watch.deadline == 100.5 + FORCED_CALL_WAIT
    assert consumer.stopping


def test_a_stop_during_housekeeping_skips_the_steps_left(monkeypatch):
    """A stop that arrives while the consumer promotes leaves the reclaim
    and the purge of that round undone (each would spend the stop's time
    for calls under way), and the loop claims nothing more."""
    consumer = Consumer(["default"], 1)
    steps = []

    def promote(queues, now):
        steps.append("promote")
        consumer.stop()
        return 0

    housekeeping = "djqueue.consumer.housekeeping"
    monkeypatch.setattr(f"{housekeeping}.promote_all", promote)
    monkeypatch.setattr(
        f"{housekeeping}.reclaim_all", lambda *a: steps.append("reclaim") or 0
    )
    monkeypatch.setattr(
        f"{housekeeping}.purge_all", lambda *a: steps.append("purge") or 0
    )
    claims = mock.patch.object(consumer.claimer, "claim", side_effect=AssertionError)

    with claims:
        consumer._loop()

    assert steps == ["promote"]


def test_stop_past_the_grace_period_releases_without_counting_the_attempt():
    result = commands.record_run("released", seconds=3)
    consumer = Consumer(["default"], 1, grace_period=0.2)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    _wait_for(lambda: Run.objects.filter(label="released").exists())

    consumer.stop()
    thread.join(timeout=10)

    assert not thread.is_alive()
    message = get_queue().get(result.id)
    assert message.state == State.QUEUED
    assert message.attempts == 0


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_command_that_calls_sys_exit_fails_and_the_worker_goes_on():
    exiting = commands.exit_now()
    after = commands.add(1, 1)

    drain(concurrency=1)

    assert exiting.status == State.FAILED
    assert "SystemExit" in exiting.error
    assert after.get(timeout=0) == 2


def test_delay_counts_from_each_call_not_from_using():
    later = commands.add.using(delay=3600)
    moment = timezone.now()
    with mock.patch("djqueue.commands.building.timezone.now", return_value=moment):
        first = get_queue().get(later(1, 1).id)
    with mock.patch(
        "djqueue.commands.building.timezone.now",
        return_value=moment + timedelta(seconds=10),
    ):
        second = get_queue().get(later(1, 1).id)
    assert first.state == State.SCHEDULED
    assert first.eta == moment + timedelta(seconds=3600)
    assert second.eta == moment + timedelta(seconds=3610)


def test_naive_datetimes_work_with_use_tz_off(settings):
    settings.USE_TZ = False
    moment = timezone.now()
    assert timezone.is_naive(moment)
    with mock.patch("djqueue.commands.building.timezone.now", return_value=moment):
        result = commands.add.using(delay=60)(1, 2)
    assert result.status == State.SCHEDULED

    drain(now=lambda: moment + timedelta(seconds=59))
    assert result.status == State.SCHEDULED
    drain(now=lambda: moment + timedelta(seconds=60))

    assert result.get(timeout=0) == 3


def test_a_worker_keeps_its_database_connection_across_messages():
    """With Django's default CONN_MAX_AGE of 0 a worker does not reconnect
    for each message: a consumer is one long request."""
    created = []

    def count(sender, connection, **kwargs):
        created.append(threading.get_ident())

    for i in range(10):
        commands.record_run(f"keep-{i}")
    connection_created.connect(count)
    try:
        drain(concurrency=1)
    finally:
        connection_created.disconnect(count)

    assert Run.objects.count() == 10
    # The worker's, the ack thread's, and the main thread's if it had none;
    # a worker that reconnected for each message would make ten or more.
    assert len(created) <= 3


def test_connections_are_closed_when_broken_or_past_a_positive_max_age(
    monkeypatch,
):
    settings_dict = connections.settings[DEFAULT_DB_ALIAS]
    connection.ensure_connection()
    close_old_connections()
    assert connection.connection is not None  # CONN_MAX_AGE = 0: kept

    monkeypatch.setitem(settings_dict, "CONN_MAX_AGE", 60)
    connection.close_at = time.monotonic() + 60
    close_old_connections()
    assert connection.connection is not None  # younger than its max age
    connection.close_at = time.monotonic() - 1
    close_old_connections()
    assert connection.connection is None  # older

    monkeypatch.setitem(settings_dict, "CONN_MAX_AGE", 0)
    connection.ensure_connection()
    connection.errors_occurred = True
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    close_old_connections()
    assert connection.connection is None  # broken
