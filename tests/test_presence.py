"""Consumers register with the queues they serve, heartbeat, count their runs
into the queues' statistics and sign off when they stop."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.consumer import Consumer
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

ADD = "testproject.demo.commands.add"
FAIL = "testproject.demo.commands.fail"


def test_a_running_consumer_is_listed_and_leaves_when_it_stops():
    queue = get_queue()
    consumer = Consumer(["default"], 3, poll_interval=0.05, worker_id="box:42")
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if queue.consumers():
                break
            threading.Event().wait(0.05)
        [listed] = queue.consumers()
        assert listed.id == "box:42"
        assert listed.queues == ("default",)
        assert listed.concurrency == 3
        assert listed.worker_type == "thread"
    finally:
        consumer.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert queue.consumers() == []


def test_runs_are_counted_per_command_and_minute():
    for number in range(4):
        commands.add(number, 1)
    commands.fail("counted")
    queue = get_queue()

    consumer = Consumer(["default"], 2, burst=True)
    consumer.run()

    assert (consumer.processed, consumer.failed) == (5, 1)
    assert queue.command_totals() == {ADD: (4, 0), FAIL: (0, 1)}
    [minute] = queue.throughput(timezone.now() - timedelta(minutes=5))
    assert (minute.done, minute.failed) == (4, 1)


def test_runs_not_stored_during_an_outage_are_stored_later(monkeypatch):
    commands.add(1, 1)
    queue = get_queue()
    real_record = type(queue).record_runs
    calls = []

    def flaky_record(self, counts, now=None):
        calls.append(dict(counts))
        if len(calls) == 1:
            raise ConnectionError("backend down")
        return real_record(self, counts, now=now)

    monkeypatch.setattr(type(queue), "record_runs", flaky_record)
    consumer = Consumer(["default"], 1, burst=True)
    consumer.run()
    assert queue.command_totals() == {}, "the first store failed"

    consumer.presence.announce()

    assert calls[-1] == calls[0]
    assert queue.command_totals() == {ADD: (1, 0)}
