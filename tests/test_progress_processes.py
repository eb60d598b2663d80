"""Progress reported from real ``run_queue`` processes: from a process
worker's child, through the child's own connection, while it runs; and a
consumer SIGKILLed after its command reported some, whose message runs
again with the new attempt's progress in place of the old."""

from __future__ import annotations

import os
import signal

import pytest

from djqueue import State, get_queue
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]


def note_of(result) -> str:
    progress = result.progress
    return "" if progress is None else progress.note


def test_a_process_worker_stores_progress_while_it_runs(start_consumer, tmp_path):
    """The command runs in the child; what it reports is in the store
    before it finishes, and kept once it has."""
    release = tmp_path / "release"
    result = commands.progress_then_wait(str(release))
    proc = start_consumer("-c", "1", "--worker-type", "process")

    wait_until(lambda: note_of(result) == "attempt 1", 60, "the progress", proc)
    assert result.status == State.RUNNING
    assert (result.progress.done, result.progress.total) == (1, 2)

    release.touch()
    wait_until(result.ready, 60, "the run's end", proc)
    assert result.get(timeout=0) == 1
    assert (result.progress.done, result.progress.note) == (2, "attempt 1")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_a_consumer_killed_after_reporting_progress_loses_nothing(
    start_consumer, tmp_path, worker_type
):
    """SIGKILL while the first attempt waits, its progress stored: the
    lease expires, the message runs again, and the progress is the second
    attempt's alone. A process worker's child outlives its consumer: woken
    once the second attempt is done, it reports again, and the store
    refuses it (its lease is lost)."""
    wake = tmp_path / "wake"
    result = commands.progress_then_wait(str(wake), 120)
    proc = start_consumer("-c", "1", "--worker-type", worker_type, lease=2)
    # The command reports, then records its run: wait for both.
    wait_until(
        lambda: note_of(result) == "attempt 1"
        and Run.objects.filter(message_id=result.id, attempt=1).exists(),
        60, "the progress and the run", proc,
    )  # fmt: skip
    first = Run.objects.get(message_id=result.id, attempt=1).pid

    proc.signal(signal.SIGKILL)
    proc.wait(10)
    try:
        again = start_consumer("-c", "1", "--worker-type", worker_type, lease=2)
        wait_until(result.ready, 60, "the second attempt", again)
        wake.touch()
        wait_until(lambda: not alive(first), 30, "the first attempt's end")
    finally:
        if alive(first):  # the orphaned child of the process worker
            os.kill(first, signal.SIGKILL)

    assert result.get(timeout=0) == 2
    assert (result.progress.done, result.progress.note) == (2, "attempt 2")
    attempts = Run.objects.filter(message_id=result.id).values_list("attempt")
    assert sorted(attempt for (attempt,) in attempts) == [1, 2]
    assert get_queue().counts()[State.FAILED] == 0
    lost = [e for e in result.message.attempt_errors if e["outcome"] == "lost"]
    assert len(lost) == 1
    if worker_type == "process":
        assert "Did not store the progress of message" in proc.log()
