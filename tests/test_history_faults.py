"""The history of a message's attempts survives what real consumers go
through: a retry after an error, then a redelivery after its worker was
killed (real ``run_queue`` processes on a shared backend)."""

from __future__ import annotations

import signal

import pytest

from djqueue import State, get_queue
from djqueue.envelope.history import attempt_history
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_history_survives_a_retry_and_a_killed_worker(start_consumer):
    result = commands.fails_then_hangs("h")
    first = start_consumer("-c", "1", "--worker-id", "first", lease=2)
    wait_until(
        lambda: Run.objects.filter(message_id=result.id, attempt=2).exists(),
        60,
        "the second attempt to start",
        first,
    )
    first.signal(signal.SIGKILL)
    first.wait(10)
    queue = get_queue()
    second = start_consumer("-c", "1", "--worker-id", "second", lease=2)
    wait_until(
        lambda: queue.get(result.id).state == State.DONE,
        60,
        "the message to be done",
        second,
    )

    history = attempt_history(queue.get(result.id))

    assert [(a.number, a.worker, a.outcome) for a in history] == [
        (1, "first", "retried"),
        (2, "first", "lost"),
        (3, "second", "done"),
    ]
    assert history[0].error == "RuntimeError: h: the first attempt fails"
    assert "worker lost" in history[1].error
    assert all(a.started_at is not None for a in history)
    assert history[0].started_at <= history[1].started_at <= history[2].started_at
