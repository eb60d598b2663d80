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
