"""Many runs at once on each worker thread (``run_queue --async-runs N``):
async commands run concurrently on one worker thread's event loop, each
within its timeout, with its own outcome, its own ``current_message()`` and
its own database connection, closed at its end; sync commands run beside
them; a stop past the grace period releases and cancels them; process
workers are refused."""

import asyncio
import re
import signal
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from djqueue import State, get_queue, signals
from djqueue.consumer import Consumer
from djqueue.consumer.exit_statuses import EXIT_CONFIG
from djqueue.consumer.runners import ProcessRunner
from testproject.demo import async_commands, commands
from testproject.demo.models import Run

from .processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def on_backends(test):
    """Run ``test`` on the default queue of DatabaseQueue and of a RedisQueue
    on fakeredis."""
    test = pytest.mark.usefixtures("backend")(test)
    return pytest.mark.parametrize("backend", ["database", "fakeredis"], indirect=True)(
        test
    )


PAGE = Path(__file__).resolve().parent.parent / "docs" / "async.rst"

#: Seconds any wait of these tests may last before it fails.
PATIENCE = 10.0


def run_queue(*args):
    call_command("run_queue", "--burst", "--concurrency", "1", *args, verbosity=0)


@pytest.fixture
def meeting():
    """A fresh label for ``commands.meet``; ``meeting(parties)`` sets its
    barrier."""
    label = f"meeting-{threading.get_ident()}-{id(object())}"

    def arrange(parties):
        commands.BARRIERS[label] = asyncio.Barrier(parties)
        commands.MET[label] = threading.Event()
        return label

    yield arrange
    for shared in (commands.BARRIERS, commands.CONNECTIONS, commands.MET):
        shared.pop(label, None)


@on_backends
def test_async_runs_meet_at_a_barrier_in_one_worker_thread(meeting):
    label = meeting(4)
    results = [commands.meet(label, patience=PATIENCE) for _ in range(4)]
    run_queue("--async-runs", "4")
    values = [result.get(timeout=0) for result in results]
    # Each saw its own message, after the others ran in between.
    assert [value["id"] for value in values] == [result.id for result in results]
    assert len({value["thread"] for value in values}) == 1


@on_backends
def test_the_orm_works_in_each_run_and_each_runs_connection_is_closed(meeting):
    label = meeting(3)
    results = [commands.meet(label, patience=PATIENCE) for _ in range(3)]
    run_queue("--async-runs", "3")
    assert all(result.status == State.DONE for result in results)
    recorded = set(Run.objects.filter(label=label).values_list("message_id", flat=True))
    assert recorded == {result.id for result in results}
    used = commands.CONNECTIONS[label]
    # One connection per run (each in its own thread), none left open.
    assert len({id(wrapper) for wrapper in used}) == 3
    assert [wrapper.connection for wrapper in used] == [None] * 3


@on_backends
def test_a_sync_command_runs_in_a_thread_of_its_own_while_the_loop_goes_on(
    meeting,
):
    label = meeting(2)
    waiting = commands.wait_for_meeting(label, patience=PATIENCE)
    met = [commands.meet(label, patience=PATIENCE) for _ in range(2)]
    run_queue("--async-runs", "3")
    loop_thread = met[0].get(timeout=0)["thread"]
    assert waiting.get(timeout=0) != loop_thread
    assert met[1].get(timeout=0)["thread"] == loop_thread


@on_backends
def test_a_timeout_cancels_only_its_own_run(meeting):
    label = meeting(2)
    timed_out = async_commands.wait_for_ever()
    met = [commands.meet(label, patience=PATIENCE) for _ in range(2)]
    run_queue("--async-runs", "3")
    message = timed_out.message
    assert message.state == State.FAILED
    assert message.attempts == 2
    assert "CommandTimedOut: timed out after 0.1s" in message.error
    assert [result.status for result in met] == [State.DONE] * 2


@on_backends
def test_a_failure_among_concurrent_runs_records_only_its_own_outcome(meeting):
    label = meeting(3)
    first = commands.meet(label, patience=PATIENCE)
    failing = commands.meet(label, fail=True, patience=PATIENCE)
    last = commands.meet(label, patience=PATIENCE)
    run_queue("--async-runs", "3")
    assert failing.status == State.FAILED
    assert "RuntimeError" in failing.error
    assert f"{label}: fails once met" in failing.error
    assert (first.get(timeout=0)["id"], last.get(timeout=0)["id"]) == (
        first.id,
        last.id,
    )


@on_backends
def test_leases_are_renewed_then_a_stop_past_the_grace_period_releases_the_runs():
    commands.WAITING = threading.Semaphore(0)
    results = [commands.wait_in_loop() for _ in range(3)]
    run_threads = []

    def started(sender, message, **kwargs):
        run_threads.append(threading.current_thread())

    moment = [timezone.now()]
    consumer = Consumer(
        concurrency=1,
        async_runs=3,
        grace_period=0,
        lease_seconds=60,
        periodic=False,
        now=lambda: moment[0],
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    signals.message_started.connect(started)
    try:
        thread.start()
        for _ in results:
            assert commands.WAITING.acquire(timeout=PATIENCE), "three runs wait"
        moment[0] += timedelta(minutes=5)
        assert consumer._heartbeat() == 3
        assert {r.message.lease_expires_at for r in results} == {
            moment[0] + timedelta(seconds=60)
        }
        consumer.stop()
        thread.join(PATIENCE)
    finally:
        signals.message_started.disconnect(started)
        consumer.stop()
    assert not thread.is_alive()
    assert [(r.status, r.message.attempts) for r in results] == [(State.QUEUED, 0)] * 3
    # Every thread that ran them ends: nothing keeps the process alive.
    for ended in [*run_threads, *consumer.workers._threads]:
        ended.join(PATIENCE)
        assert not ended.is_alive(), ended.name
    assert len(run_threads) == 3


@on_backends
def test_the_pages_command_line_runs_async_commands():
    text = PAGE.read_text()
    section = text[text.index("\nMany runs at once\n") :]
    line = re.search(r"\$ python manage.py run_queue (.*)", section)
    assert line, "the section shows a command line"
    results = [async_commands.record_visit("from the page") for _ in range(3)]
    call_command("run_queue", *line[1].split(), "--burst", verbosity=0)
    assert [result.status for result in results] == [State.DONE] * 3
    assert Run.objects.filter(label="from the page").count() == 3


def test_process_workers_are_refused_with_the_fix():
    with pytest.raises(CommandError, match="--async-runs needs thread workers") as e:
        call_command("run_queue", "--async-runs", "2", "--worker-type", "process")
    assert e.value.returncode == EXIT_CONFIG
    assert "Leave out --worker-type process" in str(e.value)
    with pytest.raises(ValueError, match="leave out one of the two"):
        Consumer(async_runs=2, runner_factory=ProcessRunner)
    with pytest.raises(ValueError, match="async_runs must be at least 1"):
        Consumer(async_runs=0)


@on_backends
def test_the_consumer_claims_what_its_loops_can_start():
    consumer = Consumer(concurrency=2, async_runs=5, prefetch=3, periodic=False)
    assert consumer.claimer.slots == 2 * 5 + 3
    assert get_queue() in consumer.queues


@pytest.mark.process
def test_sigterm_past_the_grace_period_releases_every_run_and_exits(start_consumer):
    labels = [f"many-at-once-{index}" for index in range(3)]
    results = [commands.record_then_wait(label) for label in labels]
    proc = start_consumer("-c", "1", "--async-runs", "3", "--grace-period", "0.2")
    wait_until(
        lambda: Run.objects.filter(label__in=labels).count() == 3,
        30,
        "the three runs",
        proc,
    )
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.log()
    assert [(r.status, r.message.attempts) for r in results] == [(State.QUEUED, 0)] * 3
    assert "Released 3 unfinished message" in proc.log()
