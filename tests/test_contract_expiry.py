"""The expiry part of the contract: a message not started by its deadline
never runs and ends ``expired``; one that started (was claimed once) never
expires. Every backend that supports expiry passes this file; the clocks
are the ``now`` of each call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from djqueue.backends.expiry import expired_reason
from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


@pytest.fixture
def start():
    """The moment the test's messages are written: the deadlines count from it."""
    return timezone.now()


def deadline_message(start, seconds=60, **kwargs):
    return make_message(deadline=start + timedelta(seconds=seconds), **kwargs)


def test_the_backends_keep_deadlines(queue):
    assert queue.supports_expiry


def test_the_deadline_is_stored_and_read_back(queue, start):
    message = deadline_message(start)
    queue.write(message)
    assert queue.get(message.id).deadline == message.deadline
    queue.write(plain := make_message())
    assert queue.get(plain.id).deadline is None


def test_a_message_is_claimed_before_its_deadline(queue, start):
    message = deadline_message(start)
    queue.write(message)
    [leased] = queue.claim("w", LEASE, now=start + timedelta(seconds=59))
    assert leased.id == message.id
    assert leased.deadline == message.deadline


def test_past_its_deadline_a_message_is_never_claimed_and_expires(queue, start):
    """The claim skips it (or expires it on the way); expire_due names it
    once, and it is expired with the reason, unrun."""
    message = deadline_message(start)
    plain = make_message()
    queue.write_many([message, plain])
    later = start + timedelta(seconds=61)

    assert [m.id for m in queue.claim("w", LEASE, limit=5, now=later)] == [plain.id]
    assert queue.expire_due(now=later) == [message.id]
    assert queue.expire_due(now=later) == []

    stored = queue.get(message.id)
    assert stored.state == State.EXPIRED
    assert stored.attempts == 0
    assert stored.started_at is None
    assert stored.error == expired_reason(message.deadline)
    assert "before it started" in stored.error
    assert stored.finished_at is not None
    assert queue.counts()[State.EXPIRED] == 1
    assert [m.id for m in queue.list_messages(State.EXPIRED)] == [message.id]


def test_expire_due_moves_what_no_claim_looked_at(queue, start):
    """With no consumer claiming, queued and scheduled messages past their
    deadline expire; those before it, and those without one, stay."""
    queued = deadline_message(start, 10)
    scheduled = deadline_message(start, 120, eta=start + timedelta(seconds=60))
    waiting = deadline_message(start, 3600)
    plain = make_message()
    queue.write_many([queued, scheduled, waiting, plain])

    assert queue.expire_due(now=start + timedelta(seconds=11)) == [queued.id]
    assert queue.get(scheduled.id).state == State.SCHEDULED
    assert queue.expire_due(now=start + timedelta(seconds=121)) == [scheduled.id]
    assert queue.get(waiting.id).state == State.QUEUED
    assert queue.get(plain.id).state == State.QUEUED


def test_expire_due_moves_a_bounded_batch(queue, start):
    messages = [deadline_message(start, 1) for _ in range(5)]
    queue.write_many(messages)
    later = start + timedelta(seconds=2)
    first = queue.expire_due(now=later, limit=3)
    rest = queue.expire_due(now=later, limit=3)
    assert len(first) == 3
    assert sorted(first + rest) == sorted(m.id for m in messages)


def test_a_retry_past_the_deadline_still_runs(queue, start):
    """The first attempt started before the deadline: the message started,
    and its retries are not dropped."""
    message = deadline_message(start)
    queue.write(message)
    [leased] = queue.claim("w", LEASE, now=start)
    later = start + timedelta(seconds=120)
    assert queue.retry_later(leased, later, "boom", now=start + timedelta(seconds=1))
    assert queue.expire_due(now=later) == []

    queue.promote_due(now=later)
    [again] = queue.claim("w", LEASE, now=later)
    assert again.id == message.id
    assert again.attempts == 2


def test_a_message_whose_worker_was_lost_runs_again_past_its_deadline(queue, start):
    """A claimed message started: after its lease expires it comes back and
    runs, however late, as every message whose worker was lost does."""
    message = deadline_message(start)
    queue.write(message)
    queue.claim("w", LEASE, now=start)
    later = start + timedelta(seconds=LEASE + 60)
    assert queue.reclaim_expired(now=later) == 1
    assert queue.expire_due(now=later) == []

    claim = queue.claim_suspect if queue.supports_suspects else queue.claim
    again = claim("w2", LEASE, now=later)
    again = again[0] if isinstance(again, list) else again
    assert again.id == message.id
    assert again.attempts == 2


def test_a_released_message_has_not_started_and_can_expire(queue, start):
    """Released at shutdown, the attempt is not counted: it never started."""
    message = deadline_message(start)
    queue.write(message)
    leased = queue.claim("w", LEASE, now=start)
    assert queue.release(leased) == 1
    later = start + timedelta(seconds=61)
    assert queue.claim("w", LEASE, now=later) == []
    assert queue.expire_due(now=later) == [message.id]


def test_an_expired_message_gives_up_its_unique_key(queue, start):
    message = deadline_message(start)
    message.unique_key = "report"
    assert queue.write_unique(message) == message.id
    later = start + timedelta(seconds=61)
    queue.claim("w", LEASE, now=later)
    assert queue.expire_due(now=later) == [message.id]
    successor = make_message()
    successor.unique_key = "report"
    assert queue.write_unique(successor) == successor.id


def test_a_retry_of_an_expired_message_runs_it(queue, start):
    """An operator's retry asks for a run: the deadline no longer holds."""
    message = deadline_message(start)
    queue.write(message)
    later = start + timedelta(seconds=61)
    queue.expire_due(now=later)
    assert queue.retry(message.id, now=later)

    retried = queue.get(message.id)
    assert retried.state == State.QUEUED
    assert retried.deadline is None
    assert retried.error == ""
    [leased] = queue.claim("w", LEASE, now=later)
    assert leased.id == message.id
    assert queue.expire_due(now=later + timedelta(days=1)) == []


def test_expired_messages_are_purged_and_kept_as_failed_ones_are(queue, start):
    kept = deadline_message(start)
    purged = deadline_message(start)
    queue.write_many([kept, purged])
    later = start + timedelta(seconds=61)
    assert sorted(queue.expire_due(now=later)) == sorted([kept.id, purged.id])
    assert queue.get(kept.id).expires_at == later + queue.failed_ttl

    assert queue.delete(purged.id)
    assert queue.purge_expired(now=later + queue.failed_ttl - timedelta(1)) == 0
    assert queue.purge(State.EXPIRED) == 1
    assert queue.get(kept.id) is None


def test_claims_in_bulk_step_over_expired_messages(queue, start):
    """Expired messages ahead of ready ones in claim order take no place
    in a claim."""
    expired = [deadline_message(start, 1, priority=5) for _ in range(3)]
    ready = [make_message() for _ in range(2)]
    queue.write_many([*expired, *ready])
    later = start + timedelta(seconds=2)
    claimed = queue.claim("w", LEASE, limit=2, now=later)
    assert sorted(m.id for m in claimed) == sorted(m.id for m in ready)
    assert sorted(queue.expire_due(now=later)) == sorted(m.id for m in expired)


def test_ack_and_claim_leaves_an_expired_message(queue, start):
    first = make_message()
    queue.write(first)
    [leased] = queue.claim("w", LEASE, now=start)
    expired = deadline_message(start, 1)
    queue.write(expired)
    later = start + timedelta(seconds=2)

    acked, claimed = queue.ack_and_claim(leased, None, 0, "w", LEASE, now=later)

    assert acked
    assert claimed == []
    assert queue.expire_due(now=later) == [expired.id]


@pytest.mark.parametrize(
    "deadline",
    [
        datetime(2026, 12, 3, 13, 29, 21, 123456, tzinfo=UTC),
        datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(2100, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(1900, 1, 1, 6, 30, tzinfo=UTC),
        datetime(2, 1, 2, tzinfo=UTC),
        datetime(9999, 10, 30, 23, 59, 59, tzinfo=UTC),
    ],
)
def test_the_reason_names_the_deadline_in_utc(queue, deadline):
    """Every backend writes the same error, the deadline as ISO 8601 in
    UTC (the Redis programs format it themselves)."""
    message = make_message(eta=deadline - timedelta(days=1), deadline=deadline)
    queue.write(message)
    assert queue.expire_due(now=deadline) == [message.id]
    assert queue.get(message.id).error == expired_reason(deadline)


def test_a_crowd_of_expired_messages_keeps_no_ready_one_waiting(queue, start):
    """A claim may stop short after many expired messages (Redis expires
    them on the way, a thousand at most per claim), but the ready message
    behind them is claimed by the next claims, and every expired one is
    announced."""
    expired = [deadline_message(start, 1, priority=9) for _ in range(1005)]
    ready = make_message()
    queue.write_many([*expired, ready])
    later = start + timedelta(seconds=2)

    claims = [queue.claim("w", LEASE, now=later) for _ in range(2)]

    assert [m.id for claim in claims for m in claim] == [ready.id]
    announced = queue.expire_due(now=later, limit=5000)
    assert sorted(announced) == sorted(m.id for m in expired)
