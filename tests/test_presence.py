"""Consumers register with the queues they serve, heartbeat, count their runs
into the queues' statistics and sign off when they stop."""

import itertools
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.consumer import Consumer
from djqueue.states import State
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
    assert set(queue.command_seconds()) <= {ADD, FAIL}
    [minute] = queue.throughput(timezone.now() - timedelta(minutes=5))
    assert (minute.done, minute.failed) == (4, 1)


def test_statistics_count_messages_and_a_retried_attempt_is_not_one():
    """A message failing its first attempt is retried later: the consumer
    counts the failed run; the statistics count no finished message, as
    the state counts show none failed."""
    commands.fails_twice("again")
    commands.add(1, 2)
    queue = get_queue()

    consumer = Consumer(["default"], 1, burst=True)
    consumer.run()

    assert (consumer.processed, consumer.failed) == (2, 1)
    assert queue.counts()[State.FAILED] == 0
    assert queue.command_totals() == {ADD: (1, 0)}
    [minute] = queue.throughput(timezone.now() - timedelta(minutes=5))
    assert (minute.done, minute.failed) == (1, 0)


def test_runs_not_stored_during_an_outage_are_stored_later(monkeypatch):
    commands.add(1, 1)
    queue = get_queue()
    real_record = type(queue).record_runs
    calls = []

    def flaky_record(self, counts, now=None, seconds=None):
        calls.append((dict(counts), dict(seconds)))
        if len(calls) == 1:
            raise ConnectionError("backend down")
        return real_record(self, counts, now=now, seconds=seconds)

    monkeypatch.setattr(type(queue), "record_runs", flaky_record)
    consumer = Consumer(["default"], 1, burst=True)
    consumer.run()
    assert queue.command_totals() == {}, "the first store failed"

    consumer.presence.announce()

    assert calls[-1] == calls[0]
    assert queue.command_totals() == {ADD: (1, 0)}


def test_the_seconds_of_the_runs_counted_go_with_their_counts():
    """The consumer adds up the seconds each counted run took (by its clock)
    and stores them with the counts; a retried attempt's are left out."""
    commands.add(1, 1)
    commands.add(2, 2)
    commands.fails_twice("again")
    queue = get_queue()
    ticks = itertools.count()

    consumer = Consumer(["default"], 1, burst=True, clock=lambda: next(ticks) * 0.5)
    stored = []
    real_record = type(queue).record_runs
    consumer.queues[0].record_runs = lambda counts, now=None, seconds=None: (
        stored.append(dict(seconds)),
        real_record(consumer.queues[0], counts, now=now, seconds=seconds),
    )
    consumer.run()

    # The clock's steps may bring a heartbeat between the two runs of add.
    recorded = [set(seconds) for seconds in stored if seconds]
    assert recorded
    assert all(keys == {(ADD, State.DONE)} for keys in recorded), recorded
    assert queue.command_totals() == {ADD: (2, 0)}
    assert queue.command_seconds()[ADD] == sum(
        s[(ADD, State.DONE)] for s in stored if s
    )
    assert queue.command_seconds()[ADD] > 0


def test_a_consumer_names_the_messages_it_holds_the_longest_running_first():
    """The registration names what the consumer holds, bounded, and how many."""
    from djqueue.backends.inspection import MAX_RUNNING_SHOWN
    from djqueue.consumer.presence import Presence

    from .factories import make_message

    now = timezone.now()
    held = []
    for age in range(MAX_RUNNING_SHOWN + 5):
        message = make_message("tests.slow")
        message.started_at = now - timedelta(seconds=age)
        held.append(message)
    queue = get_queue()
    presence = Presence([queue], "emails-1", 4, "thread", 30, lambda: now, lambda: held)

    presence.announce()

    [listed] = queue.consumers(now=now)
    assert listed.holding == MAX_RUNNING_SHOWN + 5
    assert [m.id for m in listed.running] == [
        m.id for m in reversed(held[-MAX_RUNNING_SHOWN:])
    ]
    assert {(m.queue, m.command) for m in listed.running} == {("default", "tests.slow")}
