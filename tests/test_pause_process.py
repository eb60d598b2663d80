"""Pausing the queue of real run_queue processes, and a consumer SIGKILLed
while its queue is paused: what runs finishes, nothing new is claimed until
the resume, and nothing is lost.

Every wait is bounded and every process started is stopped by pid. A
process cannot be given a clock: that nothing is claimed is watched for a
bounded span longer than the consumer's pause check (``holds_for``)."""

from __future__ import annotations

import signal
import time
from io import StringIO

import pytest
from django.core.management import call_command

from djqueue import State, get_queue
from djqueue.consumer.pauses import PAUSE_CHECK_INTERVAL
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import lost_and_repeated, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]

#: How long "nothing is claimed" is watched: two pause checks and more.
WATCH = 3 * PAUSE_CHECK_INTERVAL


def holds_for(predicate, seconds: float, what: str, *procs) -> None:
    """Fail as soon as ``predicate`` stops holding within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"{what} stopped holding"
        for proc in procs:
            assert proc.process.poll() is None, f"run_queue exited:\n{proc.log()}"
        time.sleep(0.05)


def manage(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def states(results) -> set[State]:
    queue = get_queue()
    return {queue.get(result.id).state for result in results}


def test_pausing_lets_the_running_message_finish_and_claims_nothing_new(
    start_consumer, tmp_path
):
    go_on = tmp_path / "go-on"
    long = commands.record_until_file(str(go_on), "long")
    proc = start_consumer("-c", "2", "--prefetch", "0")
    wait_until(lambda: Run.objects.filter(label="long").exists(), 30, "the run", proc)

    manage("queue_pause", "default", "--by", "ops", "--reason", "deploy")
    wait_until(
        lambda: "Queue default paused by ops" in proc.log(), 10, "the pause", proc
    )
    after = commands.record_run.map([("after",)] * 5)
    holds_for(lambda: states(after) == {State.QUEUED}, WATCH, "waiting", proc)
    go_on.touch()
    wait_until(lambda: long.status == State.DONE, 30, "the long message", proc)
    holds_for(lambda: states(after) == {State.QUEUED}, WATCH, "waiting", proc)

    manage("queue_resume", "default")
    wait_until(lambda: states(after) == {State.DONE}, 30, "the rest", proc)

    assert "Queue default resumed" in proc.log()
    assert lost_and_repeated([long, *after]) == (set(), set())
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.log()


def test_a_consumer_killed_while_paused_loses_nothing(start_consumer, tmp_path):
    """SIGKILL while the queue is paused and its messages run: a new
    consumer reclaims their expired leases but claims nothing while the
    queue stays paused; after the resume every message is done, the killed
    ones run again (at least once), the others once."""
    go_on = tmp_path / "go-on"
    killed = commands.record_until_file.map([(str(go_on), "killed")] * 3)
    waiting = commands.record_run.map([("waiting",)] * 5)
    first = start_consumer("-c", "3", "--prefetch", "0", lease=2)
    wait_until(lambda: Run.objects.count() == 3, 30, "three runs", first)
    manage("queue_pause", "default", "--by", "ops")
    wait_until(lambda: "paused by ops" in first.log(), 10, "the pause", first)

    first.signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    go_on.touch()
    second = start_consumer("-c", "3", lease=2)
    wait_until(lambda: "paused by ops" in second.log(), 30, "the pause", second)
    wait_until(lambda: states(killed) == {State.QUEUED}, 30, "the reclaim", second)
    holds_for(lambda: Run.objects.count() == 3, WATCH, "no new run", second)

    manage("queue_resume", "default")
    everything = [*killed, *waiting]
    wait_until(lambda: states(everything) == {State.DONE}, 60, "all done", second)

    lost, repeated = lost_and_repeated(everything)
    assert lost == set()
    assert repeated == {result.id for result in killed}
    assert get_queue().counts()[State.RUNNING] == 0
    second.signal(signal.SIGTERM)
    assert second.wait(30) == 0, second.log()
