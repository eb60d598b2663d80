"""Progress reported from real ``run_queue`` processes: from a process
worker's child, through the child's own connection, while it runs; and a
consumer SIGKILLed after its command reported some, whose message runs
again with the new attempt's progress in place of the old."""

from __future__ import annotations

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


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_a_consumer_killed_after_reporting_progress_loses_nothing(
    start_consumer, tmp_path, worker_type
):
    """SIGKILL while the first attempt waits, its progress stored: the
    lease expires, the message runs again, and the progress is the second
    attempt's alone (the first one's is cleared when it is requeued)."""
    result = commands.progress_then_wait(str(tmp_path / "never"), 120)
    proc = start_consumer("-c", "1", "--worker-type", worker_type, lease=2)
    wait_until(lambda: note_of(result) == "attempt 1", 60, "the progress", proc)

    proc.signal(signal.SIGKILL)
    proc.wait(10)
    again = start_consumer("-c", "1", "--worker-type", worker_type, lease=2)
    wait_until(result.ready, 60, "the second attempt", again)

    assert result.get(timeout=0) == 2
    assert (result.progress.done, result.progress.note) == (2, "attempt 2")
    attempts = sorted(
        Run.objects.filter(message_id=result.id).values_list("attempt", flat=True)
    )
    assert attempts == [1, 2]
    assert get_queue().counts()[State.FAILED] == 0
    lost = [e for e in result.message.attempt_errors if e["outcome"] == "lost"]
    assert len(lost) == 1
