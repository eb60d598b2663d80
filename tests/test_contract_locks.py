"""The BaseQueue contract for lock keys, on every backend and server.

A running message holds its ``lock_key`` in its queue: a ready message of a
held key is not claimed (nor failed, nor counted an attempt) until the hold
ends, which it does whenever the holder leaves ``running``.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.states import State

from .conftest import QUEUE_FACTORIES
from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


def at(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def locked(key: str, **kwargs):
    message = make_message(**kwargs)
    message.lock_key = key
    return message


def write_pair(queue, key="k", **kwargs):
    """Two messages of one key, the first one ready first, both leasable."""
    first = locked(key, eta=at(-60), **kwargs)
    second = locked(key, eta=at(-30), **kwargs)
    queue.write_many([first, second])
    return first, second


def test_backends_declare_lock_keys(queue):
    assert queue.supports_lock_keys is True


def test_a_held_key_is_not_claimed(queue):
    """The second message of a key stays queued, its attempts untouched,
    while the first runs; messages of other keys and without one are not
    held back."""
    first, second = write_pair(queue)
    other = locked("other", eta=at(-10))
    plain = make_message(eta=at(-5))
    queue.write_many([other, plain])

    claimed = queue.claim("w1", LEASE, limit=10)

    assert [m.id for m in claimed] == [first.id, other.id, plain.id]
    assert claimed[0].lock_key == "k"
    assert queue.claim("w2", LEASE, limit=10) == []
    waiting = queue.get(second.id)
    assert (waiting.state, waiting.attempts, waiting.error) == (State.QUEUED, 0, "")
    assert len(queue) == 1
    assert queue.counts()[State.QUEUED] == 1


def test_one_claim_takes_one_message_per_key(queue):
    messages = [locked("k", eta=at(-60 + i)) for i in range(5)]
    queue.write_many(messages)

    claimed = queue.claim("w1", LEASE, limit=5)

    assert [m.id for m in claimed] == [messages[0].id]


def _ack_done(queue, message):
    assert queue.ack(message, result="r", result_ttl=60)


def _ack_deleted(queue, message):
    assert queue.ack(message, result_ttl=0)


def _fail(queue, message):
    assert queue.fail(message, "boom")


def _retry_later(queue, message):
    assert queue.retry_later(message, at(-1), "try again")


def _release(queue, message):
    assert queue.release([message]) == 1


def _delete(queue, message):
    assert queue.delete(message.id)


@pytest.mark.parametrize(
    "outcome", [_ack_done, _ack_deleted, _fail, _retry_later, _release, _delete]
)
def test_the_hold_ends_when_the_holder_leaves_running(queue, outcome):
    first, second = write_pair(queue)
    (holder,) = queue.claim("w1", LEASE, limit=10)
    assert queue.claim("w2", LEASE, limit=10) == []

    outcome(queue, holder)

    # Released, the first is ready again and comes first.
    expected = first.id if outcome is _release else second.id
    assert [m.id for m in queue.claim("w2", LEASE, limit=10)] == [expected]


def test_ack_and_claim_gives_up_the_hold(queue):
    """The next message of the key is claimable once the ack is done (in the
    same round trip or the next claim)."""
    _, second = write_pair(queue)
    (holder,) = queue.claim("w1", LEASE, limit=10)

    kept, following = queue.ack_and_claim(holder, None, 0, "w1", LEASE)

    assert kept is True
    if not following:
        following = queue.claim("w1", LEASE, limit=10)
    assert [m.id for m in following] == [second.id]


def test_a_lost_lease_frees_the_key_on_reclaim(queue):
    """A killed holder blocks its key only until its lease is reclaimed:
    on its last attempt it fails and the next message runs; with attempts
    left it runs again first, alone."""
    last, second = write_pair(queue, max_attempts=1)
    now = timezone.now()
    queue.claim("w1", LEASE, limit=10, now=now)
    later = now + timedelta(seconds=LEASE + 1)
    assert queue.claim("w2", LEASE, limit=10, now=later) == []

    assert queue.reclaim_expired(now=later) == 1

    assert queue.get(last.id).state == State.FAILED
    assert [m.id for m in queue.claim("w2", LEASE, limit=10, now=later)] == [second.id]


def test_a_reclaimed_holder_with_attempts_left_gives_up_its_key(queue):
    """Reclaim frees the key of a holder whose lease expired. The holder
    comes back suspect, leased only by claim_suspect(), so the next message
    of the key may run first; the suspect then waits for the key like any
    other message of it."""
    first, second = write_pair(queue, max_attempts=3)
    now = timezone.now()
    queue.claim("w1", LEASE, limit=10, now=now)
    later = now + timedelta(seconds=LEASE + 1)

    assert queue.reclaim_expired(now=later) == 1

    (running,) = queue.claim("w2", LEASE, limit=10, now=later)
    assert (running.id, running.attempts) == (second.id, 1)
    assert queue.claim_suspect("w3", LEASE, now=later) is None
    assert queue.get(first.id).state == State.QUEUED

    assert queue.ack(running, now=later)
    suspect = queue.claim_suspect("w3", LEASE, now=later)
    assert (suspect.id, suspect.attempts) == (first.id, 2)


def test_lock_keys_are_held_per_queue(queue, other_queue):
    mine = locked("k")
    theirs = locked("k")
    queue.write(mine)
    other_queue.write(theirs)

    assert [m.id for m in queue.claim("w", LEASE, limit=10)] == [mine.id]
    assert [m.id for m in other_queue.claim("w", LEASE, limit=10)] == [theirs.id]


@pytest.fixture(params=["fakeredis", "redis"])
def redis_queue(request):
    queue = QUEUE_FACTORIES[request.param](request)
    yield queue
    queue.flush()
    queue.close()


def test_redis_a_hold_whose_message_is_gone_holds_nothing(redis_queue):
    """A holder's hash deleted straight from Redis (not by the delete
    script) leaves its lock pointer behind; it blocks nothing."""
    queue = redis_queue
    _, second = write_pair(queue)
    (holder,) = queue.claim("w1", LEASE, limit=10)
    assert queue.client.get(queue.key("l:k")).decode() == holder.id
    queue.client.delete(queue.key(f"m:{holder.id}"))

    assert [m.id for m in queue.claim("w2", LEASE, limit=10)] == [second.id]
    assert queue.client.get(queue.key("l:k")).decode() == second.id


@pytest.mark.django_db(transaction=True)
def test_consumers_claiming_at_once_never_run_one_key_twice(queue):
    """Four threads (on a database, four connections) claim and ack 40
    messages of 8 keys; no key is ever leased to two of them at once."""
    keys = [f"key-{n}" for n in range(8)]
    queue.write_many([locked(key) for key in keys for _ in range(5)])
    holding: set[str] = set()
    overlaps: list[str] = []
    done: list[str] = []
    guard = threading.Lock()

    def work():
        from django.db import connections

        pending = []
        try:
            for _ in range(400):
                if len(done) >= 40:
                    break
                # Claim the next batch while the last one is still leased.
                claimed = queue.claim("w", LEASE, limit=4)
                with guard:
                    for message in claimed:
                        if message.lock_key in holding:
                            overlaps.append(message.lock_key)
                        holding.add(message.lock_key)
                finish(pending)
                pending = claimed
        finally:
            finish(pending)
            connections.close_all()

    def finish(messages):
        with guard:  # forgotten while the backend still holds them
            for message in messages:
                holding.discard(message.lock_key)
                done.append(message.id)
        for message in messages:
            queue.ack(message, result_ttl=0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert overlaps == []
    assert len(done) == len(set(done)) == 40
    assert queue.counts()[State.QUEUED] == 0


def _waiting_on_a_lock(connection_id) -> bool:
    """Whether the server connection ``connection_id`` waits for a lock."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                [connection_id],
            )
            row = cursor.fetchone()
            return row is not None and row[0] == "Lock"
        # InnoDB refreshes this table only when it was not read for 0.1 s.
        time.sleep(0.11)
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.innodb_trx "
            "WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'",
            [connection_id],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_an_uncommitted_one_does_not_take_its_key():
    """PostgreSQL, MariaDB: consumer A has claimed the first message of a
    key and not yet committed; consumer B's claim skips A's locked row and
    finds the second message of the key, which no committed row holds. The
    lock's unique constraint makes B wait for A, and B takes only the
    message without a key."""
    from django.db import connection, connections, transaction

    from djqueue.backends.database import DatabaseQueue

    from .processes import wait_until

    if connection.vendor == "sqlite":
        pytest.skip("SQLite serializes writers: no claim runs while another does")
    queue = DatabaseQueue("race")
    first, second = write_pair(queue)
    plain = make_message(eta=at(-1))
    queue.write(plain)
    a_claimed, a_may_commit = threading.Event(), threading.Event()
    b_started = threading.Event()
    claims: dict[str, list] = {}
    b_connection: list = []

    def consumer_a():
        try:
            with transaction.atomic():
                claims["a"] = queue.claim("a", LEASE, limit=1)
                a_claimed.set()
                a_may_commit.wait(60)
        finally:
            connections.close_all()

    def consumer_b():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT pg_backend_pid()"
                    if connection.vendor == "postgresql"
                    else "SELECT CONNECTION_ID()"
                )
                b_connection.append(cursor.fetchone()[0])
            b_started.set()
            claims["b"] = queue.claim("b", LEASE, limit=10)
        finally:
            connections.close_all()

    thread_a = threading.Thread(target=consumer_a)
    thread_b = threading.Thread(target=consumer_b)
    thread_a.start()
    try:
        assert a_claimed.wait(30)
        thread_b.start()
        assert b_started.wait(30)
        # B waits for A's lock, or (had nothing made it wait) is done.
        wait_until(
            lambda: "b" in claims or _waiting_on_a_lock(b_connection[0]),
            30,
            "B to wait for A or to finish",
        )
    finally:
        a_may_commit.set()
        thread_a.join(timeout=60)
        if thread_b.ident is not None:
            thread_b.join(timeout=60)

    assert [m.id for m in claims["a"]] == [first.id]
    assert [m.id for m in claims["b"]] == [plain.id]
    waiting = queue.get(second.id)
    assert (waiting.state, waiting.attempts) == (State.QUEUED, 0)
    queue.flush()
