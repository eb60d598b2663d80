"""Expiry in consumers: an in-process consumer whose clock is past a
deadline, and real ``run_queue`` processes, one SIGKILLed in a run whose
deadline passes while it is lost. Nothing is lost, nothing expired runs."""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import State, get_queue, signals
from djqueue.consumer import Consumer
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import ConsumerProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("backend")
def test_a_consumer_past_the_deadline_runs_the_rest_and_expires_it():
    expired = []

    def on_expired(sender, message, error, **kwargs):
        expired.append((message.id, message.state))

    late = commands.record_run.using(expires=60, priority=9)("late")
    plain = commands.record_run("plain")
    later = get_queue().get(late.id).deadline + timedelta(seconds=1)
    signals.message_expired.connect(on_expired)
    try:
        consumer = Consumer(["default"], 2, burst=True, now=lambda: later)
        consumer.run()
    finally:
        signals.message_expired.disconnect(on_expired)

    assert consumer.processed == 1
    assert plain.status == State.DONE
    assert late.status == State.EXPIRED
    assert expired == [(late.id, State.EXPIRED)]
    assert list(Run.objects.values_list("label", flat=True)) == ["plain"]


@pytest.mark.process
def test_a_run_whose_worker_was_killed_runs_again_past_its_deadline(
    server_backend, tmp_path
):
    """A consumer SIGKILLed while it runs a message: the deadline passes
    while the message's lease runs out. The message had started, so once
    another consumer reclaims it, it runs again (at-least-once); the
    message beside it that no consumer had claimed expires, unrun."""
    env = {**server_backend, "DJQUEUE_LEASE": "2"}
    first = ConsumerProcess(
        tmp_path / "first.log", "-c", "1", "--prefetch", "0", env=env
    )
    second = None
    try:
        queue = get_queue()
        wait_until(lambda: bool(queue.consumers()), 60, "the first consumer", first)
        started = commands.slow_once.using(expires=5, priority=1)("started", 60.0)
        waiting = commands.slow_once.using(expires=5)("waiting", 0.0)
        wait_until(
            lambda: Run.objects.filter(message_id=started.id).exists(),
            30,
            "the first run",
            first,
        )
        first.signal(signal.SIGKILL)
        first.wait(10)
        deadline = queue.get(started.id).deadline
        wait_until(lambda: timezone.now() > deadline, 10, "the deadline")
        assert queue.get(started.id).state == State.RUNNING

        second = ConsumerProcess(tmp_path / "second.log", "-c", "1", env=env)
        wait_until(
            lambda: started.ready() and waiting.ready(), 60, "both finish", second
        )
    finally:
        first.stop()
        if second is not None:
            second.stop()

    assert started.status == State.DONE
    assert started.get(timeout=0) == 2
    attempts = Run.objects.filter(message_id=started.id).values_list("attempt")
    assert sorted(attempts) == [(1,), (2,)]
    assert waiting.status == State.EXPIRED
    assert not Run.objects.filter(message_id=waiting.id).exists()
