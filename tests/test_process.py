"""Real run_queue processes: draining, SIGKILL and SIGTERM.

Every wait is bounded and every process started is stopped by pid.
"""

import signal
from collections import Counter

import pytest
from django.db.models import Count

from djqueue import State, get_queue
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import wait_until

#: The tests that also run on a Redis Cluster (the others need no second look).
and_on_a_cluster = pytest.mark.parametrize(
    "server_backend", ["database", "redis", "redis-cluster"], indirect=True
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]


def done_count():
    return get_queue().counts()[State.DONE]


def test_four_consumers_drain_2000_messages_exactly_once(start_consumer):
    results = commands.record_run.map([("drain",)] * 2000)
    consumers = [start_consumer("-c", "4") for _ in range(4)]

    wait_until(lambda: done_count() == 2000, 240, "2000 messages done", *consumers)
    for proc in consumers:
        proc.signal(signal.SIGTERM)
    exit_codes = [proc.wait(30) for proc in consumers]

    assert exit_codes == [0, 0, 0, 0]
    runs = Counter(Run.objects.values_list("message_id", flat=True))
    assert set(runs) == {r.id for r in results}
    assert set(runs.values()) == {1}
    counts = get_queue().counts()
    assert counts[State.QUEUED] == counts[State.RUNNING] == 0
    pids = Run.objects.values("pid").annotate(n=Count("id"))
    assert len(pids) >= 2, f"one consumer did all the work: {list(pids)}"


@and_on_a_cluster
def test_a_message_whose_consumer_is_killed_runs_again_after_its_lease(start_consumer):
    result = commands.slow_once("killed", 120)
    first = start_consumer("-c", "1", lease=2)
    wait_until(
        lambda: Run.objects.filter(attempt=1).exists(), 30, "the first run", first
    )

    first.signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    second = start_consumer("-c", "1", lease=2)
    wait_until(lambda: result.status == State.DONE, 60, "the redelivery", second)

    assert result.get(timeout=0) == 2
    assert result.message.attempts == 2
    assert list(Run.objects.order_by("attempt").values_list("attempt", "finished")) == [
        (1, False),
        (2, True),
    ]
    second.signal(signal.SIGTERM)
    assert second.wait(30) == 0


def test_sigterm_lets_the_running_message_finish_and_exits_0(start_consumer):
    result = commands.record_run("sigterm", 2.0)
    proc = start_consumer("-c", "2", "--grace-period", "30")
    wait_until(
        lambda: Run.objects.filter(label="sigterm").exists(), 30, "the run", proc
    )

    proc.signal(signal.SIGTERM)

    assert proc.wait(30) == 0, proc.log()
    assert result.status == State.DONE
    assert Run.objects.get(label="sigterm").finished
    assert "Received SIGTERM" in proc.log()


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_sigterm_past_the_grace_period_releases_and_nothing_is_lost(
    start_consumer, worker_type
):
    result = commands.record_run("released", 3.0)
    proc = start_consumer(
        "-c", "1", "--grace-period", "0.5", "--worker-type", worker_type
    )  # fmt: skip
    wait_until(
        lambda: Run.objects.filter(label="released").exists(), 30, "the run", proc
    )

    proc.signal(signal.SIGTERM)

    assert proc.wait(30) == 0, proc.log()
    message = get_queue().get(result.id)
    assert message.state == State.QUEUED
    assert message.attempts == 0
    assert "Released 1 unfinished message" in proc.log()

    again = start_consumer("--burst")
    assert again.wait(60) == 0
    assert result.status == State.DONE
    assert result.message.attempts == 1
