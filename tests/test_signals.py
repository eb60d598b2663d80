"""Signals for integrations, and the fields structured logs carry."""

import logging

import pytest

from djqueue import signals
from djqueue.consumer import Consumer
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


@pytest.fixture
def received():
    seen = []
    handlers = {}
    for name in ("enqueued", "started", "finished", "failed", "retried"):
        signal = getattr(signals, f"message_{name}")

        def handler(sender, message, name=name, **kwargs):
            seen.append((name, sender, message.id, kwargs))

        handlers[signal] = handler
        signal.connect(handler)
    yield seen
    for signal, handler in handlers.items():
        signal.disconnect(handler)


def test_each_step_sends_its_signal(received):
    ok, bad, flaky = commands.add(1, 2), commands.fail("x"), commands.flaky("s")

    Consumer(["default"], 1, burst=True).run()

    by_message = {}
    for name, sender, message_id, kwargs in received:
        by_message.setdefault(message_id, []).append((name, sender, kwargs))
    assert [n for n, _, _ in by_message[ok.id]] == ["enqueued", "started", "finished"]
    assert by_message[ok.id][2][2]["result"] == 3
    assert by_message[ok.id][0][1] == "testproject.demo.commands.add"
    assert [n for n, _, _ in by_message[bad.id]] == ["enqueued", "started", "failed"]
    assert by_message[bad.id][2][2]["error"] == "ValueError: x"
    assert [n for n, _, _ in by_message[flaky.id]] == [
        "enqueued", "started", "retried", "started", "retried", "started", "finished",
    ]  # fmt: skip


def test_a_receiver_that_raises_is_logged_and_does_not_stop_the_work(caplog):
    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    signals.message_finished.connect(broken)
    try:
        result = commands.add(2, 2)
        Consumer(["default"], 1, burst=True).run()
    finally:
        signals.message_finished.disconnect(broken)
    assert result.get(timeout=0) == 4
    assert "receiver bug" in caplog.text


def test_outcome_log_records_carry_message_fields(caplog):
    caplog.set_level(logging.INFO, logger="djqueue")
    result = commands.add(1, 1)
    Consumer(["default"], 1, burst=True).run()
    (record,) = [r for r in caplog.records if r.getMessage().startswith("Done")]
    assert record.message_id == result.id
    assert record.command == "testproject.demo.commands.add"
    assert record.attempt == 1


def test_immediate_mode_sends_the_same_signals(received, settings):
    settings.QUEUE_IMMEDIATE = True
    commands.add(1, 2)
    commands.fail("now")
    names = [name for name, *_ in received]
    assert names == ["enqueued", "started", "finished", "enqueued", "started", "failed"]


@pytest.fixture
def caught():
    """Collect every send of the signals a test names: ``caught(signal)``."""
    connected = []

    def catch(signal):
        seen = []

        def handler(sender, **kwargs):
            seen.append((sender, kwargs))

        signal.connect(handler, weak=False)
        connected.append((signal, handler))
        return seen

    yield catch
    for signal, handler in connected:
        signal.disconnect(handler)


def test_a_consumer_signals_its_start_and_its_stop(caught):
    started = caught(signals.consumer_started)
    stopped = caught(signals.consumer_stopped)
    commands.add(1, 2)
    consumer = Consumer(["default"], 1, burst=True, worker_id="host:7")

    consumer.run()

    assert [
        (sender, kwargs["worker_id"], kwargs["queues"]) for sender, kwargs in started
    ] == [(consumer, "host:7", ["default"])]
    (sender, kwargs), *rest = stopped
    assert not rest
    assert sender is consumer
    assert kwargs["worker_id"] == "host:7"
    assert kwargs["processed"] == 1


def test_cancelling_through_the_handle_sends_message_cancelled(caught):
    cancelled = caught(signals.message_cancelled)
    result = commands.add.enqueue_in(600, 1, 2)

    assert result.cancel()
    assert not result.cancel()  # already cancelled: no second signal

    ((sender, kwargs),) = cancelled
    assert sender == "testproject.demo.commands.add"
    assert kwargs["message"].id == result.id
    assert kwargs["message"].state == "cancelled"


def test_a_reclaimed_message_on_its_last_attempt_sends_message_failed(caught):
    from datetime import timedelta

    from django.utils import timezone

    from djqueue import get_queue
    from djqueue.consumer.housekeeping import reclaim_all

    failed = caught(signals.message_failed)
    lost, queue, now = commands.add(1, 2), get_queue(), timezone.now()
    attempts = 0
    while not failed:
        # After its first loss the message is suspect, claimed on its own.
        claimed = queue.claim("gone", 30, now=now) if not attempts else []
        leased = claimed[0] if claimed else queue.claim_suspect("gone", 30, now=now)
        attempts += 1
        now += timedelta(seconds=60)
        assert reclaim_all([queue], now) == 1

    assert attempts == leased.max_attempts  # not before its last attempt
    ((sender, kwargs),) = failed
    assert sender == "testproject.demo.commands.add"
    assert kwargs["message"].id == lost.id
    assert kwargs["reclaimed"] is True
    assert kwargs["error"] == lost.error
    assert kwargs["traceback"] == ""
    assert lost.failed
