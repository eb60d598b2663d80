"""The consumer claims in batches (its workers plus a prefetch) and stores
the acknowledgements of succeeded runs in groups, losing nothing on stop."""

import threading

import pytest
from django.test import override_settings

from djqueue import State, get_queue, signals
from djqueue.consumer import Consumer
from djqueue.consumer.execution import Outcome
from testproject.demo import commands

from .factories import FakeRunner

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

#: Every wait of these tests on another thread ends by then.
BOUND = 20.0


def spy(queue, name, calls):
    """Record the arguments of each call of ``queue.name``."""
    real = getattr(queue, name)

    def recorded(*args, **kwargs):
        answer = real(*args, **kwargs)
        calls.append((args, kwargs, answer))
        return answer

    setattr(queue, name, recorded)


def test_one_claim_takes_the_workers_and_the_prefetch():
    results = [commands.add(i, 1) for i in range(20)]
    consumer = Consumer(["default"], 2, burst=True, prefetch=3, periodic=False)
    claims = []
    spy(consumer.queues[0], "claim", claims)

    consumer.run()

    first_args, _, first_claimed = claims[0]
    assert first_args[2] == 5  # limit: 2 workers + 3 prefetched
    assert len(first_claimed) == 5
    assert [r.get(timeout=0) for r in results] == [i + 1 for i in range(20)]
    assert len(claims) < 20


def test_acks_are_stored_in_groups_and_each_message_is_done_once():
    results = [commands.add(i, i) for i in range(40)]
    consumer = Consumer(["default"], 2, burst=True, prefetch=6, periodic=False)
    groups = []
    spy(consumer.queues[0], "ack_many", groups)
    finished = []
    receiver = lambda sender, message, result, **kw: finished.append(message.id)  # noqa: E731
    signals.message_finished.connect(receiver)
    try:
        consumer.run()
    finally:
        signals.message_finished.disconnect(receiver)

    acked = [ack[0].id for args, _, _ in groups for ack in args[0]]
    assert sorted(acked) == sorted(r.id for r in results)
    assert len(groups) < len(results)
    assert max(len(args[0]) for args, _, _ in groups) > 1
    assert sorted(finished) == sorted(acked)
    assert get_queue().counts()[State.DONE] == 40


@override_settings(QUEUE_ACK_INTERVAL=2.0)
def test_a_stop_stores_the_gathered_acks_and_releases_what_did_not_start():
    """Two messages ran and wait in the ack buffer (its interval is long);
    the others were prefetched behind a run that is still going. A stop
    stores both acks, lets the run finish, and releases the rest unrun,
    their attempts not counted."""
    done = [commands.add(1, 1), commands.add(2, 2)]
    blocker = commands.record_run("blocker")
    behind = [commands.add(3, i) for i in range(4)]
    release = threading.Event()
    started = threading.Event()
    consumer = None

    class Runner(FakeRunner):
        def run(self, message, now):
            if message.id == blocker.id:
                started.set()
                consumer.stop()
                assert release.wait(BOUND)
            return Outcome(State.DONE, result=None)

    consumer = Consumer(
        ["default"], 1, prefetch=6, periodic=False, runner_factory=Runner,
    )  # fmt: skip
    stored = []
    spy(consumer.queues[0], "ack_many", stored)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    assert started.wait(BOUND)
    release.set()
    thread.join(BOUND)
    assert not thread.is_alive()

    queue = get_queue()
    for result in [*done, blocker]:
        assert queue.get(result.id).state == State.DONE
    for result in behind:
        message = queue.get(result.id)
        assert (message.state, message.attempts) == (State.QUEUED, 0)
    assert not consumer.unanswered


def test_acks_that_cannot_be_stored_leave_the_messages_leased():
    """The backend refuses every ack: nothing is lost, the messages stay
    running under their lease, to be reclaimed and run again."""
    results = [commands.add(i, 0) for i in range(3)]
    consumer = Consumer(
        ["default"], 1, burst=True, prefetch=2, periodic=False, lease_seconds=0.2
    )
    queue = consumer.queues[0]

    def refuse(acks, now=None):
        raise ConnectionError("the store went away")

    queue.ack_many = refuse
    consumer.run()

    for result in results:
        message = get_queue().get(result.id)
        assert message.state == State.RUNNING
        assert message.attempts == 1
