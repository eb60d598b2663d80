"""When a burst consumer exits: only when nothing is ready, nothing is in
flight, and no retry it recorded is due.

The race tests order the threads with events rather than with sleeps or
repeated runs: a runner decides each attempt's outcome, and the queue's
``retry_later`` and ``claim`` are wrapped to say when they ran.
"""

import queue as queue_module
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.consumer import Consumer
from djqueue.consumer.execution import Outcome
from testproject.demo import commands

from .factories import FakeRunner

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

#: Every wait of these tests on another thread ends by then.
BOUND = 10.0


class Notifier:
    """A systemd notifier that only records when the consumer stops."""

    watchdog_interval = None

    def __init__(self, changed=None):
        self.stopped = threading.Event()
        self.changed = changed or threading.Condition()

    def ready(self, status=""):
        pass

    def stopping(self, seconds):
        with self.changed:
            self.stopped.set()
            self.changed.notify_all()

    def watchdog(self):
        pass


class Work:
    """The consumer's work queue, saying when each worker comes back for more."""

    def __init__(self):
        self._queue = queue_module.SimpleQueue()
        self.gets: dict[int, int] = {}
        self.changed = threading.Condition()

    def put(self, item):
        self._queue.put(item)

    def qsize(self):
        return self._queue.qsize()

    def get(self):
        with self.changed:
            ident = threading.get_ident()
            self.gets[ident] = self.gets.get(ident, 0) + 1
            self.changed.notify_all()
        return self._queue.get()


def wait_for(condition, predicate, what):
    with condition:
        assert condition.wait_for(predicate, timeout=BOUND), f"timed out: {what}"


def test_burst_waits_for_the_attempt_it_claimed_again_while_the_retry_was_recorded():
    """Attempt 1 fails with a retry at once; the main thread claims attempt 2
    while attempt 1's worker is still finishing. When that worker is done, the
    consumer still knows attempt 2 runs, and does not exit before it ends."""
    result = commands.add(1, 2)
    moment = timezone.now()
    claims = threading.Condition()
    notifier, work = Notifier(claims), Work()
    claims.count = 0
    second_started = threading.Event()
    first_worker = {}
    seen = {}

    class Runner(FakeRunner):
        def run(self, message, now):
            if message.attempts == 1:
                first_worker["ident"] = threading.get_ident()
                return Outcome(State.SCHEDULED, error="try again", eta=now())
            second_started.set()
            # Attempt 1's worker is back for more work: its bookkeeping is done.
            wait_for(
                work.changed,
                lambda: work.gets.get(first_worker["ident"], 0) >= 2,
                "attempt 1's worker to finish",
            )
            # Three claims later the main thread has seen that bookkeeping
            # (a burst that exits does at most two).
            after = claims.count
            with claims:
                claims.wait_for(
                    lambda: claims.count >= after + 3 or notifier.stopped.is_set(),
                    timeout=BOUND,
                )
            seen["stopped while attempt 2 ran"] = notifier.stopped.is_set()
            return Outcome(State.DONE, result=None)

    consumer = Consumer(
        ["default"], 2, burst=True, poll_interval=0.01, clock=lambda: 0.0,
        now=lambda: moment, notifier=notifier, runner_factory=Runner,
    )  # fmt: skip
    consumer.workers.work = work
    queue = consumer.queues[0]
    real_retry_later, real_claim = queue.retry_later, queue.claim

    def retry_later(*args, **kwargs):
        stored = real_retry_later(*args, **kwargs)
        # Attempt 2 is claimed and running before attempt 1's worker goes on.
        assert second_started.wait(BOUND), "attempt 2 was not claimed"
        return stored

    def claim(*args, **kwargs):
        claimed = real_claim(*args, **kwargs)
        with claims:
            claims.count += 1
            claims.notify_all()
        return claimed

    queue.retry_later, queue.claim = retry_later, claim

    consumer.run()

    assert seen == {"stopped while attempt 2 ran": False}
    message = get_queue().get(result.id)
    assert (message.state, message.attempts) == (State.DONE, 2)


def test_burst_runs_a_retry_that_is_due_and_leaves_a_later_one_scheduled():
    """A retry without a delay runs again in the same burst; one with a delay
    whose eta has not come stays scheduled when the burst exits."""
    moment = timezone.now()
    now_retry, later_retry = commands.add(1, 1), commands.add(2, 2)

    class Runner(FakeRunner):
        def run(self, message, now):
            if message.attempts > 1:
                return Outcome(State.DONE, result=None)
            delay = 0 if message.id == now_retry.id else 60
            return Outcome(
                State.SCHEDULED, error="again", eta=now() + timedelta(seconds=delay)
            )

    Consumer(
        ["default"], 2, burst=True, poll_interval=0.01, clock=lambda: 0.0,
        now=lambda: moment, runner_factory=Runner,
    ).run()  # fmt: skip

    queue = get_queue()
    done, waiting = queue.get(now_retry.id), queue.get(later_retry.id)
    assert (done.state, done.attempts) == (State.DONE, 2)
    assert (waiting.state, waiting.attempts) == (State.SCHEDULED, 1)
    assert waiting.eta == moment + timedelta(seconds=60)
