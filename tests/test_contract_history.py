"""The history of a message's attempts, on every backend: what the consumer
writes with a retry or a failure, what a reclaim writes for a lost worker,
kept through a retry from the admin, and what consumers say they run.

Tests pass explicit ``now`` values so lease arithmetic does not depend on
the wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from djqueue.backends.inspection import ConsumerInfo, RunningMessage
from djqueue.envelope.history import attempt_history
from djqueue.envelope.message import MAX_ATTEMPT_ERRORS, attempt_error
from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


def failed_run(message, at, outcome):
    """The entry the consumer adds for a run of ``message`` that failed."""
    return attempt_error(
        message.attempts,
        at,
        "builtins.KeyError",
        f"KeyError: {message.attempts}",
        "Traceback …",
        worker=message.worker,
        started_at=message.started_at,
        outcome=outcome,
    )


def close(first: datetime | None, second: datetime | None) -> bool:
    """The same moment, as backends that store microseconds keep it."""
    assert first is not None
    assert second is not None
    return abs(first - second) < timedelta(milliseconds=1)


def test_each_attempt_keeps_its_worker_start_end_and_outcome(queue):
    start = timezone.now()
    message = make_message(max_attempts=3)
    queue.write(message)
    first = queue.claim("w1", LEASE, now=start)[0]
    first.attempt_errors = [failed_run(first, start + timedelta(seconds=1), "retried")]
    assert queue.retry_later(first, start, "KeyError: 1", now=start)
    second = queue.claim("w2", LEASE, now=start + timedelta(seconds=2))[0]

    running = attempt_history(queue.get(message.id))
    assert [(a.number, a.worker, a.outcome) for a in running] == [
        (1, "w1", "retried"),
        (2, "w2", "running"),
    ]
    assert running[0].duration == timedelta(seconds=1)
    assert running[0].error == "KeyError: 1"
    assert running[1].finished_at is None

    assert queue.ack(second, "result", 60, now=start + timedelta(seconds=5))
    done = attempt_history(queue.get(message.id))
    assert [(a.number, a.outcome) for a in done] == [(1, "retried"), (2, "done")]
    assert close(done[1].started_at, start + timedelta(seconds=2))
    assert close(done[1].finished_at, start + timedelta(seconds=5))


def test_a_retry_from_the_admin_keeps_the_history(queue):
    start = timezone.now()
    message = make_message()
    queue.write(message)
    leased = queue.claim("w1", LEASE, now=start)[0]
    leased.attempt_errors = [failed_run(leased, start, "failed")]
    assert queue.fail(leased, "KeyError: 1", now=start)
    assert queue.retry(message.id)

    again = queue.claim("w2", LEASE, now=start + timedelta(seconds=1))[0]
    history = attempt_history(queue.get(message.id))

    assert again.attempts == 1
    assert [(a.number, a.worker, a.outcome) for a in history] == [
        (1, "w1", "failed"),
        (1, "w2", "running"),
    ]
    assert [a.after_reset for a in history] == [False, True]


def test_a_lost_worker_is_recorded_when_its_lease_is_reclaimed(queue):
    """Each reclaim records the attempt it gives up as lost, with the
    worker and start the message held; the last one fails the message."""
    start = timezone.now()
    message = make_message(max_attempts=2)
    queue.write(message)
    queue.claim("dead-1", LEASE, now=start)
    assert queue.reclaim_expired(now=start + timedelta(seconds=LEASE + 1)) == 1
    assert queue.get(message.id).state == State.QUEUED
    later = start + timedelta(minutes=1)
    assert queue.claim_suspect("dead-2", LEASE, now=later).attempts == 2
    assert queue.reclaim_expired(now=later + timedelta(seconds=LEASE + 1)) == 1

    stored = queue.get(message.id)
    history = attempt_history(stored)

    assert stored.state == State.FAILED
    assert [(a.number, a.worker, a.outcome) for a in history] == [
        (1, "dead-1", "lost"),
        (2, "dead-2", "lost"),
    ]
    assert close(history[0].started_at, start)
    assert close(history[1].started_at, later)
    assert close(history[1].finished_at, later + timedelta(seconds=LEASE + 1))
    assert all("worker lost" in a.error for a in history)
    assert "runs again" in history[0].error
    assert stored.error == history[1].error


def test_a_reclaim_keeps_only_the_last_attempts(queue):
    start = timezone.now()
    message = make_message(max_attempts=MAX_ATTEMPT_ERRORS + 5)
    queue.write(message)
    leased = queue.claim("w", LEASE, now=start)[0]
    leased.attempt_errors = [
        failed_run(leased, start, "retried")
        | {"attempt": number, "started_at": f"{number}"}
        for number in range(1, MAX_ATTEMPT_ERRORS + 1)
    ]
    assert queue.retry_later(leased, start, "again", now=start)
    queue.claim("dead", LEASE, now=start)
    assert queue.reclaim_expired(now=start + timedelta(seconds=LEASE + 1)) == 1

    kept = queue.get(message.id).attempt_errors

    assert len(kept) == MAX_ATTEMPT_ERRORS
    assert kept[0]["attempt"] == 2
    assert (kept[-1]["attempt"], kept[-1]["outcome"]) == (2, "lost")


def test_consumers_say_which_messages_they_hold(queue):
    now = timezone.now()
    running = (
        RunningMessage("default", make_message().id, "tests.slow", now),
        RunningMessage("mail", make_message().id, "tests.send", None),
    )
    info = ConsumerInfo(
        id="emails-1",
        host="host",
        pid=1,
        queues=("default", "mail"),
        concurrency=4,
        worker_type="thread",
        started_at=now,
        heartbeat_at=now,
        running=running,
        holding=5,
    )
    queue.register_consumer(info, ttl=30, now=now)

    (alive,) = queue.consumers(now=now)

    assert alive == info
    assert alive.running[0].started_at == now
