"""The BaseQueue contract for ``ack_many``, on every backend and server.

A batch of acknowledgements does what :meth:`ack` called on each in turn
does: it finishes the messages whose lease is still held, giving up what
they held (lock key, unique key, suspect mark), keeps each result for its
own TTL, and reports per acknowledgement whether its lease was held. Each
test runs on the backend's own ``ack_many`` and on the base class's loop
over ``ack()``, the reference.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.backends.base import Ack, BaseQueue
from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


def at(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture(params=["batched", "loop"])
def ack_many(request, queue):
    """The queue's ``ack_many``, or the base class's loop over ``ack()``."""
    if request.param == "batched":
        return queue.ack_many
    return lambda acks, now=None: BaseQueue.ack_many(queue, acks, now=now)


def leased(queue, *messages, worker="w"):
    """Write ``messages`` and lease them all; return them as leased, in the
    order given."""
    queue.write_many(messages)
    claimed = {m.id: m for m in queue.claim(worker, LEASE, limit=len(messages))}
    assert len(claimed) == len(messages)
    return [claimed[m.id] for m in messages]


def test_an_empty_batch_changes_nothing(queue, ack_many):
    (running,) = leased(queue, make_message())

    assert ack_many([]) == []

    assert queue.get(running.id).state == State.RUNNING
    assert queue.counts()[State.RUNNING] == 1


def test_a_batch_of_held_and_lost_leases_says_which_were_held(queue, ack_many):
    """Lost leases change nothing, and do not keep the others from being
    acknowledged."""
    kept, lost, dropped = leased(queue, make_message(), make_message(), make_message())
    assert queue.release([lost]) == 1
    stranger = make_message()  # never stored
    stranger.lease_token = "f" * 32

    acked = ack_many(
        [
            Ack(kept, "kept:sig", 60),
            Ack(lost, "lost:sig", 60),
            (stranger, "stranger:sig", 60),
            (dropped, None, 0),
        ]
    )

    assert acked == [True, False, False, True]
    assert queue.get(kept.id).state == State.DONE
    assert queue.get(kept.id).result == "kept:sig"
    again = queue.get(lost.id)
    assert (again.state, again.result, again.attempts) == (State.QUEUED, None, 0)
    assert queue.get(dropped.id) is None
    assert queue.get(stranger.id) is None
    assert queue.counts()[State.RUNNING] == 0


def test_results_are_readable_through_get(queue, ack_many):
    """Each message keeps its own result, done at ``now``, its lease and
    last error gone, its attempt errors kept."""
    first, second, empty = leased(queue, make_message(), make_message(), make_message())
    error = {"attempt": 1, "exception": "builtins.KeyError", "traceback": "t"}
    second.attempt_errors = [error]
    assert queue.retry_later(second, at(-1), "KeyError: 'k'")
    (second,) = queue.claim("w", LEASE)
    now = timezone.now()

    assert ack_many(
        [Ack(first, "1:sig", 60), Ack(second, "2:sig", 60), Ack(empty, None, 60)],
        now=now,
    ) == [True, True, True]

    stored = [queue.get(m.id) for m in (first, second, empty)]
    assert [m.result for m in stored] == ["1:sig", "2:sig", None]
    assert {m.state for m in stored} == {State.DONE}
    assert {m.lease_token for m in stored} == {""}
    assert [m.error for m in stored] == ["", "", ""]
    assert [m.attempt_errors for m in stored] == [[], [error], []]
    for message in stored:
        assert abs(message.finished_at - now) < timedelta(milliseconds=1)
    assert queue.counts()[State.DONE] == 3


def test_each_result_is_kept_for_its_own_ttl(queue, ack_many):
    short, long, none = leased(queue, make_message(), make_message(), make_message())
    now = timezone.now()

    assert ack_many(
        [Ack(short, "s", 10), Ack(long, "l", 100), Ack(none, "n", 0)], now=now
    ) == [True, True, True]

    assert queue.get(none.id) is None
    assert queue.purge_expired(now=now + timedelta(seconds=9)) == 0
    assert queue.purge_expired(now=now + timedelta(seconds=11)) == 1
    assert queue.get(short.id) is None
    assert queue.get(long.id).result == "l"
    assert queue.purge_expired(now=now + timedelta(seconds=99)) == 0
    assert queue.purge_expired(now=now + timedelta(seconds=101)) == 1
    assert queue.get(long.id) is None


def test_a_message_acknowledged_twice_in_a_batch_counts_once(queue, ack_many):
    """The first acknowledgement of a lease wins; a later one finds the
    lease given up, as a second ack() would."""
    once, deleted = leased(queue, make_message(), make_message())

    acked = ack_many(
        [
            Ack(once, "first", 60),
            Ack(deleted, None, 0),
            Ack(once, "second", 60),
            Ack(deleted, "late", 60),
        ]
    )

    assert acked == [True, True, False, False]
    assert queue.get(once.id).result == "first"
    assert queue.get(deleted.id) is None


def test_a_stale_lease_and_the_current_one_in_one_batch(queue, ack_many):
    """Only the acknowledgement of the lease held now counts, wherever it
    stands in the batch."""
    message = make_message()
    queue.write(message)
    stale = queue.claim("w1", LEASE, now=timezone.now())[0]
    assert queue.reclaim_expired(now=at(LEASE + 1)) == 1
    fresh = queue.claim_suspect("w2", LEASE)

    assert ack_many([Ack(stale, "stale", 60), Ack(fresh, "fresh", 60)]) == [
        False,
        True,
    ]
    assert queue.get(message.id).result == "fresh"


def test_a_message_of_another_queue_is_not_acknowledged(queue, other_queue, ack_many):
    (elsewhere,) = leased(other_queue, make_message())

    assert ack_many([Ack(elsewhere, "r", 60)]) == [False]

    assert other_queue.get(elsewhere.id).state == State.RUNNING


def locked(key: str, seconds_ago: int):
    message = make_message(eta=at(-seconds_ago))
    message.lock_key = key
    return message


@pytest.mark.parametrize("ttl", [60, 0])
def test_the_lock_keys_held_are_given_up(queue, ack_many, ttl):
    """The next message of each key can be claimed."""
    firsts = [locked("a", 60), locked("b", 59)]
    nexts = [locked("a", 30), locked("b", 29)]
    queue.write_many(firsts + nexts)
    holders = queue.claim("w", LEASE, limit=10)
    assert [m.id for m in holders] == [m.id for m in firsts]
    assert queue.claim("w", LEASE, limit=10) == []

    assert ack_many([Ack(m, "r", ttl) for m in holders]) == [True, True]

    assert [m.id for m in queue.claim("w", LEASE, limit=10)] == [m.id for m in nexts]


@pytest.mark.parametrize("ttl", [60, 0])
def test_the_unique_keys_held_are_given_up(queue, ack_many, ttl):
    """A new message with the key of an acknowledged one is stored."""
    holders = [make_message(), make_message()]
    for key, message in zip("xy", holders, strict=True):
        message.unique_key = key
        assert queue.write_unique(message) == message.id
    claimed = queue.claim("w", LEASE, limit=2)

    assert ack_many([Ack(m, "r", ttl) for m in claimed]) == [True, True]

    for key, message in zip("xy", holders, strict=True):
        newcomer = make_message()
        newcomer.unique_key = key
        assert queue.write_unique(newcomer) == newcomer.id != message.id


def test_a_suspect_acknowledged_is_no_longer_suspect(queue, ack_many):
    messages = [make_message(), make_message()]
    queue.write_many(messages)
    assert len(queue.claim("dead", LEASE, limit=2, now=timezone.now())) == 2
    assert queue.reclaim_expired(now=at(LEASE + 1)) == 2
    suspects = [queue.claim_suspect("w", LEASE) for _ in messages]
    assert all(m.suspect for m in suspects)

    assert ack_many([Ack(m, "ok", 60) for m in suspects]) == [True, True]

    assert [queue.get(m.id).suspect for m in messages] == [False, False]
    assert not queue.has_suspects()
