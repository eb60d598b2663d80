"""The BaseQueue contract: every backend, on every server, passes this file.

Tests pass explicit ``now`` values so lease and schedule arithmetic does not
depend on the wall clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


def at(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_read_on_empty_queue_returns_none(queue):
    """read() never raises on an empty queue."""
    assert queue.read() is None
    assert queue.claim("w", LEASE, limit=5) == []
    assert len(queue) == 0


def test_write_then_read_leases_the_message(queue):
    """A written message is queued; read() leases it, counting the attempt."""
    message = make_message(args=(1, 2), kwargs={"x": "y"})
    queue.write(message)
    assert len(queue) == 1

    leased = queue.read(worker="w1", lease_seconds=LEASE)

    assert leased.id == message.id
    assert leased.command == message.command
    assert leased.payload == message.payload
    assert leased.signature == message.signature
    assert leased.state == State.RUNNING
    assert leased.attempts == 1
    assert leased.worker == "w1"
    assert leased.lease_token
    assert len(queue) == 0
    stored = queue.get(message.id)
    assert stored.state == State.RUNNING
    assert stored.worker == "w1"


def test_a_leased_message_is_not_handed_out_again(queue):
    queue.write(make_message())
    assert len(queue.claim("w1", LEASE, limit=10)) == 1
    assert queue.claim("w2", LEASE, limit=10) == []


def test_claim_order_is_priority_then_eta(queue):
    """Higher priority first; within a priority, the earlier eta first."""
    base = timezone.now() - timedelta(minutes=1)
    low_old = make_message(priority=0, eta=base)
    low_new = make_message(priority=0, eta=base + timedelta(seconds=1))
    high = make_message(priority=10, eta=base + timedelta(seconds=2))
    negative = make_message(priority=-5, eta=base - timedelta(seconds=5))
    for message in (low_new, negative, high, low_old):
        queue.write(message)

    order = [queue.read(lease_seconds=LEASE).id for _ in range(4)]

    assert order == [high.id, low_old.id, low_new.id, negative.id]


def test_claim_respects_limit(queue):
    queue.write_many([make_message() for _ in range(5)])
    assert len(queue) == 5
    assert len(queue.claim("w", LEASE, limit=3)) == 3
    assert len(queue.claim("w", LEASE, limit=3)) == 2
    assert len(queue) == 0


def test_future_eta_waits_in_scheduled_until_promoted(queue):
    message = make_message(eta=at(60))
    queue.write(message)
    assert queue.get(message.id).state == State.SCHEDULED
    assert queue.read() is None
    assert queue.promote_due(now=at(30)) == 0

    assert queue.promote_due(now=at(61)) == 1

    assert queue.get(message.id).state == State.QUEUED
    assert queue.read().id == message.id


def test_ack_keeps_the_result_for_its_ttl(queue):
    message = make_message()
    queue.write(message)
    leased = queue.read(lease_seconds=LEASE)
    now = timezone.now()

    assert queue.ack(leased, result="42:sig", result_ttl=100, now=now)

    stored = queue.get(message.id)
    assert stored.state == State.DONE
    assert stored.result == "42:sig"
    assert stored.finished_at is not None
    assert queue.purge_expired(now=now + timedelta(seconds=99)) == 0
    assert queue.purge_expired(now=now + timedelta(seconds=101)) == 1
    assert queue.get(message.id) is None


def test_ack_with_zero_ttl_keeps_nothing(queue):
    message = make_message()
    queue.write(message)
    assert queue.ack(queue.read(lease_seconds=LEASE), result="x", result_ttl=0)
    assert queue.get(message.id) is None


@pytest.mark.parametrize("ttl", [0, 100])
def test_ack_and_claim_acknowledges_then_leases_the_next(queue, ttl):
    first, second = make_message(), make_message(priority=-1)
    first.unique_key = "u1"
    assert queue.write_unique(first) == first.id
    queue.write(second)
    leased = queue.read(worker="w1", lease_seconds=LEASE)
    now = timezone.now()

    kept, following = queue.ack_and_claim(leased, "42:sig", ttl, "w2", LEASE, now=now)

    assert kept is True
    assert [m.id for m in following] == [second.id]
    assert following[0].state == State.RUNNING
    assert following[0].attempts == 1
    assert following[0].worker == "w2"
    assert following[0].lease_token
    assert following[0].payload == second.payload
    stored = queue.get(first.id)
    if ttl:
        assert (stored.state, stored.result) == (State.DONE, "42:sig")
    else:
        assert stored is None
    again = make_message()
    again.unique_key = "u1"
    assert queue.write_unique(again) == again.id  # the key was released
    assert queue.cancel(again.id)
    assert queue.read() is None  # nothing else ready
    assert queue.ack(following[0], result_ttl=0)


def test_ack_and_claim_on_an_empty_queue_and_with_a_lost_lease(queue):
    message = make_message()
    queue.write(message)
    stale = queue.claim("w1", LEASE, now=timezone.now())[0]
    assert queue.reclaim_expired(now=at(LEASE + 1)) == 1

    kept, following = queue.ack_and_claim(stale, "stale", 60, "w2", LEASE)

    assert (kept, following) == (False, [])  # a suspect is claimed alone
    again = queue.claim_suspect("w2", LEASE)
    assert (again.id, again.attempts) == (message.id, 2)
    assert queue.ack_and_claim(again, "fresh", 60, "w2", LEASE) == (True, [])
    assert queue.get(message.id).result == "fresh"


def test_outcomes_are_refused_once_the_lease_is_lost(queue):
    """After a lease is reclaimed, the old holder can no longer record."""
    message = make_message()
    queue.write(message)
    stale = queue.claim("w1", LEASE, now=timezone.now())[0]
    assert queue.reclaim_expired(now=at(LEASE + 1)) == 1
    fresh = queue.read(worker="w2", lease_seconds=LEASE)
    assert fresh.attempts == 2

    assert not queue.ack(stale, result="stale", result_ttl=60)
    assert not queue.fail(stale, "stale")
    assert not queue.retry_later(stale, at(10), "stale")
    assert queue.extend([stale], LEASE) == 0
    assert queue.release([stale]) == 0
    assert queue.get(message.id).state == State.RUNNING
    assert queue.ack(fresh, result="fresh", result_ttl=60)
    assert queue.get(message.id).result == "fresh"


def test_fail_moves_to_the_dead_letter_with_reason(queue):
    message = make_message()
    queue.write(message)
    leased = queue.read(worker="w9", lease_seconds=LEASE)

    assert queue.fail(leased, "ValueError: boom", "Traceback ...")

    stored = queue.get(message.id)
    assert stored.state == State.FAILED
    assert stored.error == "ValueError: boom"
    assert stored.traceback == "Traceback ..."
    assert stored.attempts == 1
    assert stored.worker == "w9"
    assert queue.counts()[State.FAILED] == 1
    assert queue.read() is None


def test_retry_later_keeps_attempts_and_waits_for_eta(queue):
    message = make_message()
    queue.write(message)
    leased = queue.read(lease_seconds=LEASE)

    assert queue.retry_later(leased, at(20), "RuntimeError: again")

    stored = queue.get(message.id)
    assert stored.state == State.SCHEDULED
    assert stored.error == "RuntimeError: again"
    assert queue.read() is None
    queue.promote_due(now=at(21))
    again = queue.read(lease_seconds=LEASE)
    assert again.id == message.id
    assert again.attempts == 2


def test_retry_later_with_a_past_eta_is_ready_at_once(queue):
    message = make_message()
    queue.write(message)
    assert queue.retry_later(queue.read(lease_seconds=LEASE), at(-1), "again")
    assert queue.get(message.id).state == State.QUEUED
    assert queue.read().attempts == 2


def test_attempt_errors_are_stored_with_retries_and_failures(queue):
    """retry_later() and fail() store the message's attempt errors; claims
    and get() return them; an ack keeps them; so does retry(), which resets
    the attempts and clears the last error."""
    first = {"attempt": 1, "exception": "builtins.KeyError", "traceback": "t1"}
    second = {"attempt": 2, "exception": "builtins.ValueError", "traceback": "t2"}
    message, done = make_message(), make_message()
    queue.write_many([message, done])
    leased = {m.id: m for m in queue.claim("w", LEASE, limit=2)}
    assert [m.attempt_errors for m in leased.values()] == [[], []]

    leased[message.id].attempt_errors = [first]
    assert queue.retry_later(leased[message.id], at(-1), "KeyError: 'k'")
    leased[done.id].attempt_errors = [first]
    assert queue.retry_later(leased[done.id], at(-1), "KeyError: 'k'")
    again = {m.id: m for m in queue.claim("w", LEASE, limit=2)}
    assert again[message.id].attempt_errors == [first]
    again[message.id].attempt_errors = [first, second]
    assert queue.fail(again[message.id], "ValueError: v", "t2")
    assert queue.ack(again[done.id], "result", result_ttl=60)

    assert queue.get(message.id).attempt_errors == [first, second]
    assert queue.get(done.id).attempt_errors == [first]
    assert queue.retry(message.id)
    retried = queue.get(message.id)
    assert (retried.attempts, retried.error) == (0, "")
    assert retried.attempt_errors == [first, second]


def test_release_gives_back_without_counting_the_attempt(queue):
    messages = [make_message() for _ in range(3)]
    queue.write_many(messages)
    leased = queue.claim("w", LEASE, limit=3)

    assert queue.release(leased) == 3

    assert len(queue) == 3
    assert {queue.get(m.id).attempts for m in messages} == {0}
    assert all(m.attempts == 1 for m in queue.claim("w", LEASE, limit=3))


def test_extend_keeps_a_lease_alive(queue):
    message = make_message()
    queue.write(message)
    start = timezone.now()
    leased = queue.claim("w", LEASE, now=start)[0]

    assert queue.extend([leased], LEASE, now=start + timedelta(seconds=LEASE - 1)) == 1

    assert queue.reclaim_expired(now=start + timedelta(seconds=LEASE + 1)) == 0
    assert queue.get(message.id).state == State.RUNNING
    assert queue.reclaim_expired(now=start + timedelta(seconds=2 * LEASE)) == 1


def test_expired_lease_is_reclaimed_for_another_worker(queue):
    message = make_message(max_attempts=3)
    queue.write(message)
    queue.claim("dead", LEASE, now=timezone.now())

    assert queue.reclaim_expired(now=at(LEASE - 1)) == 0
    assert queue.reclaim_expired(now=at(LEASE + 1)) == 1

    stored = queue.get(message.id)
    assert stored.state == State.QUEUED
    assert stored.attempts == 1
    assert queue.read(worker="alive").attempts == 2


def test_last_attempt_lost_ends_in_failed_as_worker_lost(queue):
    message = make_message(max_attempts=2)
    queue.write(message)
    for _ in range(2):
        assert queue.read("dead", LEASE).id == message.id
        queue.reclaim_expired(now=at(LEASE + 1))

    stored = queue.get(message.id)
    assert stored.state == State.FAILED
    assert stored.attempts == 2
    assert "worker lost" in stored.error
    assert queue.read() is None


def crash(queue, *messages, worker="dead"):
    """Write ``messages``, lease them all to ``worker`` and let the lease
    expire, as when their consumer is killed; return them as leased."""
    queue.write_many(messages)
    leased = queue.claim(worker, LEASE, limit=len(messages), now=timezone.now())
    assert queue.reclaim_expired(now=at(LEASE + 1)) == len(messages)
    return leased


def test_reclaimed_messages_are_suspect_and_leased_only_by_claim_suspect(queue):
    """Suspects stay queued but only claim_suspect() leases them, the longest
    waiting first, one at a time; ordinary claims keep their order."""
    base = timezone.now() - timedelta(minutes=1)
    older, newer = make_message(eta=base), make_message(eta=base, priority=9)
    assert not any(m.suspect for m in crash(queue, newer, older))
    ordinary = [make_message(priority=p) for p in (0, 5)]
    queue.write_many(ordinary)

    stored = queue.get(older.id)
    assert (stored.state, stored.suspect, stored.attempts) == (State.QUEUED, True, 1)
    assert len(queue) == queue.counts()[State.QUEUED] == 4
    assert queue.has_suspects()
    claimed = queue.claim("w", LEASE, limit=10)
    assert [m.id for m in claimed] == [ordinary[1].id, ordinary[0].id]
    assert not any(m.suspect for m in claimed)
    first = queue.claim_suspect("w", LEASE)
    second = queue.claim_suspect("w", LEASE)
    assert [first.id, second.id] == [older.id, newer.id]
    assert (first.state, first.suspect, first.attempts) == (State.RUNNING, True, 2)
    assert first.lease_token
    assert first.worker == "w"
    assert queue.get(first.id).state == State.RUNNING
    assert queue.claim_suspect("w", LEASE) is None
    assert not queue.has_suspects()


def test_a_suspect_that_completes_is_no_longer_suspect(queue):
    """ack, fail and retry_later clear the mark; a retried suspect is then
    claimed like any message."""
    done, failed, retried = crash(queue, *(make_message() for _ in range(3)))
    for _ in range(3):
        suspect = queue.claim_suspect("w", LEASE)
        if suspect.id == done.id:
            assert queue.ack(suspect, "ok", 60)
        elif suspect.id == failed.id:
            assert queue.fail(suspect, "boom")
        else:
            assert queue.retry_later(suspect, at(-1), "again")

    assert [queue.get(m.id).suspect for m in (done, failed, retried)] == [False] * 3
    assert not queue.has_suspects()
    assert [m.id for m in queue.claim("w", LEASE, limit=5)] == [retried.id]


def test_a_released_suspect_stays_suspect_and_a_lost_one_fails(queue):
    """A suspect released at shutdown, or whose lease expires again, is
    still suspect; on its last attempt it fails as "worker lost"."""
    message = make_message(max_attempts=3)
    crash(queue, message)
    assert queue.release([queue.claim_suspect("w", LEASE)]) == 1
    stored = queue.get(message.id)
    assert (stored.state, stored.suspect, stored.attempts) == (State.QUEUED, True, 1)
    assert queue.claim("w", LEASE, limit=5) == []

    for attempt in (2, 3):
        leased = queue.claim_suspect("dead", LEASE, now=timezone.now())
        assert leased.attempts == attempt
        assert queue.reclaim_expired(now=at(LEASE + 1)) == 1

    stored = queue.get(message.id)
    assert (stored.state, stored.suspect) == (State.FAILED, False)
    assert "worker lost" in stored.error
    assert queue.claim_suspect("w", LEASE) is None


def test_suspects_can_be_listed_cancelled_and_retried(queue):
    """The inspection calls treat a suspect as the queued message it is; a
    message retried from failed or cancelled is not suspect."""
    cancelled, kept = crash(queue, make_message(), make_message())

    listed = queue.list_messages(State.QUEUED)
    assert {m.id for m in listed} == {cancelled.id, kept.id}
    assert all(m.suspect for m in listed)
    assert queue.cancel(cancelled.id)
    assert queue.retry(cancelled.id)
    assert not queue.get(cancelled.id).suspect
    assert [m.id for m in queue.claim("w", LEASE, limit=5)] == [cancelled.id]
    assert queue.claim_suspect("w", LEASE).id == kept.id


def test_counts_has_every_state(queue):
    queue.write_many([make_message() for _ in range(3)])
    queue.write(make_message(eta=at(100)))
    failing = queue.read(lease_seconds=LEASE)
    queue.fail(failing, "boom")
    queue.read(lease_seconds=LEASE)

    counts = queue.counts()

    assert counts == {
        State.SCHEDULED: 1,
        State.QUEUED: 1,
        State.RUNNING: 1,
        State.DONE: 0,
        State.FAILED: 1,
        State.CANCELLED: 0,
        State.EXPIRED: 0,
    }


def test_list_messages_pages_in_run_order(queue):
    base = timezone.now() - timedelta(minutes=1)
    messages = [
        make_message(priority=i % 3, eta=base + timedelta(seconds=i)) for i in range(7)
    ]
    queue.write_many(messages)
    expected = [m.id for m in sorted(messages, key=lambda m: (-m.priority, m.eta))]

    first = queue.list_messages(State.QUEUED, offset=0, limit=4)
    second = queue.list_messages(State.QUEUED, offset=4, limit=4)

    assert [m.id for m in first + second] == expected
    assert all(m.state == State.QUEUED for m in first)
    assert queue.list_messages(State.FAILED) == []


def test_retry_puts_a_failed_message_back_with_attempts_reset(queue):
    message = make_message()
    queue.write(message)
    queue.fail(queue.read(lease_seconds=LEASE), "boom")

    assert queue.retry(message.id)

    stored = queue.get(message.id)
    assert stored.state == State.QUEUED
    assert stored.attempts == 0
    assert not queue.retry(message.id)
    assert queue.read().attempts == 1


def test_cancel_queued_and_scheduled_but_not_running(queue):
    queued, scheduled, running = (
        make_message(),
        make_message(eta=at(60)),
        make_message(),
    )
    queue.write(running)
    queue.read(lease_seconds=LEASE)
    queue.write_many([queued, scheduled])

    assert queue.cancel(queued.id)
    assert queue.cancel(scheduled.id)
    assert not queue.cancel(running.id)
    assert not queue.cancel(queued.id)

    assert queue.get(queued.id).state == State.CANCELLED
    assert queue.get(scheduled.id).state == State.CANCELLED
    assert queue.get(running.id).state == State.RUNNING
    queue.promote_due(now=at(61))
    assert queue.read() is None


def test_delete_and_unknown_ids(queue):
    message = make_message()
    queue.write(message)

    assert queue.delete(message.id)
    assert not queue.delete(message.id)
    assert queue.get(message.id) is None
    assert queue.get("not-a-uuid") is None
    assert not queue.delete("not-a-uuid")
    assert not queue.cancel("not-a-uuid")
    assert not queue.retry("not-a-uuid")


def test_purge_deletes_one_state(queue):
    queue.write_many([make_message() for _ in range(4)])
    for _ in range(2):
        queue.fail(queue.read(lease_seconds=LEASE), "boom")

    assert queue.purge(State.FAILED) == 2

    assert queue.counts()[State.FAILED] == 0
    assert len(queue) == 2


def test_failed_messages_expire_after_the_failed_ttl(queue):
    queue.failed_ttl = timedelta(seconds=50)
    message = make_message()
    queue.write(message)
    now = timezone.now()
    queue.fail(queue.read(lease_seconds=LEASE), "boom", now=now)

    assert queue.purge_expired(now=now + timedelta(seconds=49)) == 0
    assert queue.purge_expired(now=now + timedelta(seconds=51)) == 1


def test_flush_deletes_everything(queue):
    queue.write_many([make_message() for _ in range(3)])
    queue.write(make_message(eta=at(60)))
    queue.read(lease_seconds=LEASE)

    queue.flush()

    assert sum(queue.counts().values()) == 0


def test_queues_sharing_storage_are_isolated(queue, other_queue):
    mine, theirs = make_message(), make_message()
    queue.write(mine)
    other_queue.write(theirs)

    assert len(queue) == 1
    assert queue.get(theirs.id) is None
    assert queue.read().id == mine.id
    assert queue.read() is None
    other_queue.flush()
    assert queue.get(mine.id) is not None


def test_wait_returns_once_finished_or_after_timeout(queue):
    message = make_message()
    queue.write(message)

    pending = queue.wait(message.id, timeout=0.05)
    assert pending.state == State.QUEUED
    queue.ack(queue.read(lease_seconds=LEASE), result="r", result_ttl=60)
    assert queue.wait(message.id, timeout=1).state == State.DONE
    assert queue.wait("00000000-0000-0000-0000-000000000000", timeout=0) is None


@pytest.mark.parametrize("count", [1, 120])
def test_write_many_stores_every_message(queue, count):
    messages = [make_message() for _ in range(count)]
    queue.write_many(messages)
    assert len(queue) == count
    claimed = queue.claim("w", LEASE, limit=count + 5)
    assert sorted(m.id for m in claimed) == sorted(m.id for m in messages)


def test_each_tick_is_written_once(queue):
    tick = timezone.now().replace(microsecond=0)
    first, again, later, older = (make_message(eta=tick) for _ in range(4))

    assert queue.write_tick(first, "tests.periodic", tick)
    assert not queue.write_tick(again, "tests.periodic", tick)
    assert queue.write_tick(later, "tests.periodic", tick + timedelta(seconds=5))
    assert not queue.write_tick(older, "tests.periodic", tick - timedelta(seconds=5))
    assert queue.write_tick(again, "tests.other", tick)

    assert {m.id for m in queue.claim("w", LEASE, limit=10)} == {
        first.id,
        later.id,
        again.id,
    }
