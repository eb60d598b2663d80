"""A poison message (a command that kills the process running it) among
innocent ones: a message whose worker was lost comes back suspect and runs
alone in its consumer, so when real run_queue processes are restarted as
systemd would, only the poison message fails and its neighbours all run."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.consumer import Consumer
from djqueue.consumer.runners import ThreadRunner
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

#: More restarts than the poison message's attempts: a bound, not a target.
MAX_STARTS = 8


class WatchingRunner(ThreadRunner):
    """Runs messages in the worker thread, noting for each run which other
    messages were running when it started; holds those in ``held`` until
    ``release`` is set."""

    def __init__(self, held=(), release=None):
        self.held, self.release = set(held), release or threading.Event()
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.beside: dict[str, set[str]] = {}

    def factory(self):
        return self

    def run(self, message, now):
        with self.lock:
            self.beside[message.id] = set(self.running)
            for other in self.running:
                self.beside[other].add(message.id)
            self.running.add(message.id)
        try:
            if message.id in self.held:
                assert self.release.wait(60), "never released"
            else:
                threading.Event().wait(0.2)  # so that neighbours overlap
            return super().run(message, now)
        finally:
            with self.lock:
                self.running.discard(message.id)


def crash(*results):
    """Lease the messages of ``results`` to a worker that dies: their lease
    expires and they are reclaimed."""
    queue, now = get_queue(), timezone.now()
    leased = queue.claim("dead", 30, limit=len(results), now=now)
    assert {m.id for m in leased} == {r.id for r in results}
    queue.reclaim_expired(now=now + timedelta(seconds=31))


@pytest.mark.usefixtures("backend")
def test_messages_whose_worker_was_lost_run_alone_and_first():
    """Two reclaimed messages run one at a time with nothing beside them,
    before the eight others, which run side by side as usual."""
    lost = commands.record_run.map([("lost",)] * 2)
    crash(*lost)
    others = commands.record_run.map([("other",)] * 8)
    runner = WatchingRunner()

    Consumer(["default"], 4, burst=True, runner_factory=runner.factory).run()

    assert {r.status for r in [*lost, *others]} == {State.DONE}
    assert [runner.beside[r.id] for r in lost] == [set(), set()]
    assert any(runner.beside[r.id] for r in others)
    order = list(Run.objects.order_by("id").values_list("message_id", flat=True))
    assert order[:2] == [r.id for r in lost]


class ManualClock:
    """Monotonic seconds that move only when the test moves them; counts
    its reads, so a test can wait for the consumer to go round its loop."""

    def __init__(self):
        self.value, self.reads = 1000.0, 0

    def __call__(self):
        self.reads += 1
        return self.value

    def advance(self, seconds):
        self.value += seconds

    def read_again(self, times):
        start = self.reads
        return lambda: self.reads >= start + times


@pytest.mark.usefixtures("backend")
def test_a_suspect_waits_for_long_runs_one_lease_at_a_time():
    """While a long run goes on, the consumer takes nothing new for one lease
    so that a suspect message can run alone, then takes messages again; the
    suspect runs alone once the long run ended."""
    queue = get_queue()
    lost = commands.record_run("lost")
    lease_end = queue.claim("dead", 1, now=timezone.now())[0].lease_expires_at
    long = commands.record_run("long")
    runner, clock = WatchingRunner(held={long.id}), ManualClock()
    consumer = Consumer(
        ["default"], 2, lease_seconds=30, clock=clock,
        runner_factory=runner.factory, periodic=False,
    )  # fmt: skip
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        wait_until(lambda: long.id in runner.running, 30, "the long run")
        wait_until(lambda: timezone.now() > lease_end, 5, "the lost lease to end")
        clock.advance(6)  # the reclaim is due
        wait_until(lambda: queue.get(lost.id).suspect, 30, "the reclaim")
        later = commands.record_run("later")
        wait_until(clock.read_again(20), 30, "the consumer to go round")
        assert later.status == State.QUEUED
        clock.advance(30)
        wait_until(later.ready, 30, "a message taken after one lease")
        assert lost.status == State.QUEUED
        runner.release.set()
        wait_until(lost.ready, 30, "the suspect message to run")
    finally:
        runner.release.set()
        consumer.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert (lost.status, long.status, later.status) == (State.DONE,) * 3
    assert runner.beside[lost.id] == set()
    assert runner.beside[later.id] == {long.id}


@pytest.mark.process
@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_a_poison_message_fails_alone_and_its_neighbours_all_run(
    start_consumer, worker_type
):
    """The poison message is claimed with three innocent ones, at the default
    concurrency: the killed consumer is restarted, every innocent message
    ends done and the poison message fails with "worker lost" after its
    attempts. Process workers lose only a child, so nothing is restarted."""
    first = commands.record_run("innocent", 1.0)
    poison = commands.kill_own_process()
    innocent = [first, *commands.record_run.map([("innocent", 1.0)] * 19)]
    consumers = []

    def start():
        consumers.append(start_consumer("--worker-type", worker_type, lease=2))

    def finished_restarting_dead_consumers():
        if consumers[-1].process.poll() is not None:
            logs = "\n".join(proc.log()[-2000:] for proc in consumers)
            assert len(consumers) < MAX_STARTS, f"restarted too often:\n{logs}"
            start()
        return all(r.ready() for r in [poison, *innocent])

    start()
    wait_until(finished_restarting_dead_consumers, 240, "every message finished")

    message = poison.message
    assert message.state == State.FAILED
    assert "worker lost" in message.error
    assert message.attempts == message.max_attempts == 3
    assert {r.id: r.status for r in innocent} == {r.id: State.DONE for r in innocent}
    finished = Run.objects.filter(finished=True).values_list("message_id", flat=True)
    assert set(finished) == {r.id for r in innocent}
    if worker_type == "process":
        assert len(consumers) == 1
    else:
        assert len(consumers) == message.max_attempts + 1
