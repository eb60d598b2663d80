"""A consumer and the pause of its queues, run in this process on each
backend: a paused queue is not claimed from, what runs goes on (its lease
renewed), a resume starts the claims again, and a burst consumer counts a
paused queue as empty. The consumer's clock is injected: the test moves it
on to make the next read of the pauses due, and waits on events."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import State, get_queue, registry
from djqueue.commands.periodic import _periodic, periodic_command
from djqueue.consumer import Consumer
from djqueue.consumer.housekeeping import PROMOTE_INTERVAL
from djqueue.consumer.pauses import PAUSE_CHECK_INTERVAL
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

#: The bound of every wait of these tests, in seconds.
PATIENCE = 10


class Clock:
    """Monotonic time that a test can move on."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Calls:
    """The calls of one method of an object, counted once they returned;
    :meth:`wait_for` waits until a given number returned."""

    def __init__(self, target: object, name: str, counts=lambda: True) -> None:
        self.count = 0
        self._changed = threading.Condition()
        original = getattr(target, name)

        def counted(*args, **kwargs):
            value = original(*args, **kwargs)
            if counts():
                with self._changed:
                    self.count += 1
                    self._changed.notify_all()
            return value

        setattr(target, name, counted)

    def wait_for(self, number: int) -> None:
        with self._changed:
            reached = self._changed.wait_for(lambda: self.count >= number, PATIENCE)
        assert reached, f"only {self.count} of {number} calls within {PATIENCE}s"


@pytest.fixture
def consumer_log():
    """The records of the consumer's logger, at INFO and above."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger("djqueue.consumer")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def started(consumer: Consumer) -> threading.Thread:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def stopped(consumer: Consumer, thread: threading.Thread) -> None:
    consumer.stop()
    thread.join(PATIENCE)
    assert not thread.is_alive()


def passes_while_paused(consumer: Consumer) -> Calls:
    """The claim passes the consumer makes while it knows a queue paused."""
    pauses = consumer.claimer.pauses
    return Calls(consumer.claimer, "claim", lambda: bool(pauses.paused))


def test_a_paused_queue_is_not_claimed_until_it_is_resumed(consumer_log):
    queue = get_queue()
    queue.pause("ops", "deploying")
    result = commands.add(1, 2)
    clock = Clock()
    consumer = Consumer(["default"], 2, clock=clock)
    passes = passes_while_paused(consumer)
    thread = started(consumer)
    try:
        passes.wait_for(2)
        message = queue.get(result.id)
        assert (message.state, message.attempts) == (State.QUEUED, 0)

        queue.resume()
        clock.advance(PAUSE_CHECK_INTERVAL)
        consumer.wake()

        assert result.get(timeout=PATIENCE) == 3
    finally:
        stopped(consumer, thread)
    said = [record.getMessage() for record in consumer_log]
    paused = [text for text in said if text.startswith("Queue default paused")]
    assert paused == [
        f"Queue default paused by ops since "
        f"{queue_paused_at(consumer_log)} (deploying): claiming nothing from "
        "it until it is resumed"
    ]
    assert [text for text in said if "resumed:" in text] == [
        "Queue default resumed: claiming from it again"
    ]


def queue_paused_at(records: list[logging.LogRecord]) -> str:
    """The moment the pause's log record gave (its fourth argument)."""
    (record,) = [r for r in records if r.getMessage().startswith("Queue default p")]
    return str(record.args[2])


def test_a_running_message_goes_on_with_its_lease_renewed_while_paused(tmp_path):
    """Paused while a message runs: it finishes, its lease renewed in the
    meantime, and the message enqueued after the pause waits for the resume."""
    go_on = tmp_path / "go-on"
    running = commands.record_until_file(str(go_on), "running")
    clock = Clock()
    consumer = Consumer(["default"], 2, clock=clock, prefetch=0)
    queue = consumer.queues[0]
    passes = passes_while_paused(consumer)
    taken = Calls(consumer.claimer, "_take")
    renewals = Calls(queue, "extend")
    thread = started(consumer)
    try:
        taken.wait_for(1)
        queue.pause("ops")
        clock.advance(PAUSE_CHECK_INTERVAL)
        consumer.wake()
        passes.wait_for(1)
        waiting = commands.add(2, 2)
        passes.wait_for(passes.count + 1)

        clock.advance(consumer.heartbeat_interval)
        consumer.wake()
        renewals.wait_for(1)
        go_on.touch()

        assert running.get(timeout=PATIENCE) is not None
        assert taken.count == 1
        passes.wait_for(passes.count + 1)
        message = queue.get(waiting.id)
        assert (message.state, message.attempts) == (State.QUEUED, 0)

        queue.resume()
        clock.advance(PAUSE_CHECK_INTERVAL)
        consumer.wake()
        assert waiting.get(timeout=PATIENCE) == 4
    finally:
        go_on.touch()
        stopped(consumer, thread)


@pytest.fixture
def two_queues(backend, settings):
    """``default`` and ``other``, on the backend of the ``backend`` fixture."""
    plain = {"BACKEND": "djqueue.backends.database.DatabaseQueue"}
    default = (getattr(settings, "QUEUES", None) or {"default": plain})["default"]
    settings.QUEUES = {"default": default, "other": default}
    yield
    get_queue("other").flush()


@pytest.mark.usefixtures("two_queues")
def test_a_burst_consumer_runs_the_unpaused_queues_and_leaves_the_paused_one():
    """Burst mode counts a paused queue as empty: it drains the others and
    exits, and the paused queue's messages wait, untouched."""
    paused = [commands.add.using(queue="default")(i, i) for i in range(3)]
    running = [commands.add.using(queue="other")(i, 1) for i in range(3)]
    get_queue("default").pause("ops", "maintenance")

    consumer = Consumer(["default", "other"], 2, burst=True)
    consumer.run()

    assert [result.get(timeout=0) for result in running] == [1, 2, 3]
    for result in paused:
        message = get_queue("default").get(result.id)
        assert (message.state, message.attempts) == (State.QUEUED, 0)
    assert consumer.processed == 3


def test_a_burst_consumer_of_a_paused_queue_alone_exits_at_once():
    waiting = commands.add(1, 1)
    get_queue().pause("ops")

    consumer = Consumer(["default"], 1, burst=True)
    consumer.run()

    assert consumer.processed == 0
    assert get_queue().get(waiting.id).state == State.QUEUED


@pytest.mark.usefixtures("two_queues")
def test_a_consumer_of_two_queues_keeps_consuming_the_unpaused_one():
    get_queue("default").pause("ops")
    clock = Clock()
    consumer = Consumer(["default", "other"], 2, clock=clock)
    passes = passes_while_paused(consumer)
    thread = started(consumer)
    try:
        passes.wait_for(1)
        waiting = commands.add.using(queue="default")(1, 1)
        served = commands.add.using(queue="other")(2, 3)

        assert served.get(timeout=PATIENCE) == 5
        passes.wait_for(passes.count + 1)
        assert get_queue("default").get(waiting.id).state == State.QUEUED

        get_queue("default").resume()
        clock.advance(PAUSE_CHECK_INTERVAL)
        consumer.wake()
        assert waiting.get(timeout=PATIENCE) == 2
    finally:
        stopped(consumer, thread)


@pytest.fixture
def every_ten_seconds():
    def beat():
        return "beat"

    command = periodic_command(every=timedelta(seconds=10), name="tests.paused_beat")(
        beat
    )
    yield command
    _periodic.pop(command.name)
    registry.unregister(command.name)


def test_periodic_ticks_are_still_written_while_paused(every_ten_seconds):
    """The tick is enqueued and waits, queued, for the resume."""
    queue = get_queue()
    queue.pause("ops")
    clock, moment = Clock(), [timezone.now()]
    consumer = Consumer(["default"], 1, clock=clock, now=lambda: moment[0])
    ticker = consumer._ticks
    writes = Calls(ticker, "write")
    ticks = Calls(ticker, "write", lambda: bool(queue.counts()[State.QUEUED]))
    thread = started(consumer)
    try:
        writes.wait_for(1)
        moment[0] += timedelta(seconds=11)
        clock.advance(PROMOTE_INTERVAL)
        consumer.wake()
        ticks.wait_for(1)
        passes = passes_while_paused(consumer)
        passes.wait_for(1)
    finally:
        stopped(consumer, thread)
    [message] = queue.list_messages(State.QUEUED)
    assert (message.command, message.attempts) == ("tests.paused_beat", 0)
    assert consumer.processed == 0
