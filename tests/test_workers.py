"""Process workers: timeouts, poison messages and recycling, with real
run_queue processes on each backend; and --max-messages for threads."""

import signal
from collections import Counter

import pytest

from djqueue import State, get_queue
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]


def finished(results):
    return lambda: all(r.ready() for r in results)


def test_a_run_past_its_timeout_is_killed_and_the_worker_replaced(start_consumer):
    before = commands.record_run("before")
    slow = commands.overruns(30)
    after = commands.record_run("after")
    proc = start_consumer("--worker-type", "process", "-c", "1")

    wait_until(finished([before, slow, after]), 60, "three messages", proc)

    assert slow.status == State.FAILED
    assert "CommandTimedOut: timed out after 1s" in slow.error
    (timed_out,) = slow.message.attempt_errors
    assert timed_out["exception"] == "djqueue.exceptions.CommandTimedOut"
    assert after.status == State.DONE
    pids = dict(Run.objects.values_list("label", "pid"))
    assert pids["before"] != pids["after"]
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_a_poison_message_fails_after_its_attempts_and_others_all_run(start_consumer):
    poison = commands.kill_own_process()
    ordinary = commands.record_run.map([("ordinary",)] * 500)
    proc = start_consumer("--worker-type", "process", "-c", "2")

    wait_until(finished([poison, *ordinary]), 180, "all messages", proc)

    message = poison.message
    assert message.state == State.FAILED
    assert message.attempts == message.max_attempts == 3
    assert "worker lost" in message.error
    assert [(e["attempt"], e["exception"]) for e in message.attempt_errors] == [
        (attempt, "djqueue.exceptions.WorkerLost") for attempt in (1, 2, 3)
    ]
    runs = Counter(Run.objects.values_list("message_id", flat=True))
    assert set(runs) == {r.id for r in ordinary}
    assert get_queue().counts()[State.DONE] == 500
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_children_are_replaced_after_max_messages(start_consumer):
    results = [commands.record_run(f"r{i}") for i in range(9)]
    proc = start_consumer("--worker-type", "process", "-c", "1", "--max-messages", "3")

    wait_until(finished(results), 60, "nine messages", proc)

    pids = list(Run.objects.order_by("id").values_list("pid", flat=True))
    assert len(set(pids)) == 3
    assert pids[0] == pids[2] != pids[3] == pids[5] != pids[6] == pids[8]


def test_children_are_replaced_past_max_memory(start_consumer):
    results = [commands.hoard(120) for _ in range(3)]
    proc = start_consumer("--worker-type", "process", "-c", "1", "--max-memory", "100")

    wait_until(finished(results), 60, "three hoards", proc)

    assert len({r.get(timeout=0) for r in results}) == 3


def test_thread_workers_stop_the_consumer_after_max_messages(start_consumer):
    results = [commands.add(i, i) for i in range(5)]
    proc = start_consumer("-c", "1", "--max-messages", "3")

    assert proc.wait(60) == 0
    assert sum(r.ready() for r in results) == 3
