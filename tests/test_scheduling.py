"""enqueue_at/enqueue_in, priorities and cancellation, on each backend."""

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.consumer import Consumer
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import ConsumerProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("backend")
def test_enqueue_at_and_in_wait_in_scheduled():
    at = commands.add.enqueue_at(timezone.now() + timedelta(hours=1), 1, 2)
    later = commands.add.enqueue_in(timedelta(minutes=5), 3, 4)
    past = commands.add.enqueue_at(timezone.now() - timedelta(days=1), 5, 6)

    assert at.status == State.SCHEDULED
    assert later.status == State.SCHEDULED
    assert past.status == State.QUEUED
    Consumer(["default"], 1, burst=True).run()
    assert past.get(timeout=0) == 11
    assert at.status == later.status == State.SCHEDULED


@pytest.mark.usefixtures("backend")
def test_a_cancelled_scheduled_message_never_runs():
    result = commands.record_run.enqueue_in(0.2, "cancelled")
    assert result.cancel()
    assert result.status == State.CANCELLED
    assert not result.cancel()

    now = timezone.now() + timedelta(seconds=1)
    Consumer(["default"], 1, burst=True, now=lambda: now).run()

    assert not Run.objects.exists()
    assert result.status == State.CANCELLED


@pytest.mark.usefixtures("backend")
def test_cancelling_a_running_message_says_it_could_not():
    result = commands.add(1, 1)
    get_queue().claim("someone", 30)
    assert result.status == State.RUNNING
    assert not result.cancel()
    assert result.status == State.RUNNING


@pytest.mark.usefixtures("backend")
def test_a_thousand_messages_run_in_priority_order_with_one_worker():
    priorities = [(i * 37) % 21 - 10 for i in range(1000)]
    results = [
        commands.record_run.using(priority=p)(f"{p}:{i}")
        for i, p in enumerate(priorities)
    ]

    Consumer(["default"], 1, burst=True).run()

    assert all(r.status == State.DONE for r in results)
    ran = [
        tuple(map(int, label.split(":")))
        for label in Run.objects.order_by("id").values_list("label", flat=True)
    ]
    expected = sorted(
        ((p, i) for i, p in enumerate(priorities)), key=lambda pi: (-pi[0], pi[1])
    )
    assert ran == expected


@pytest.mark.process
def test_scheduled_messages_run_within_a_second_after_their_time(
    server_backend, tmp_path
):
    proc = ConsumerProcess(tmp_path / "consumer.log", "-c", "2", env=server_backend)
    try:
        wait_until(lambda: "started" in proc.log(), 30, "the consumer", proc)
        results = [
            commands.record_run.enqueue_in(seconds, f"{seconds}")
            for seconds in (1, 2, 3, 1.5, 2.5)
        ]
        wait_until(lambda: all(r.ready() for r in results), 30, "scheduled runs", proc)
    finally:
        proc.stop()

    for result in results:
        message = result.message
        lateness = (message.started_at - message.eta).total_seconds()
        assert 0 <= lateness < 1.0, (message.eta, message.started_at)


@pytest.mark.usefixtures("backend")
def test_a_result_not_kept_is_reported_as_expired_not_pending():
    from djqueue import ResultExpired

    result = commands.add.using(result_ttl=0)(1, 1)
    Consumer(["default"], 1, burst=True).run()

    assert result.status is None
    with pytest.raises(ResultExpired, match="no longer stored"):
        result.get(timeout=1)
