"""DatabaseQueue.ack_many pays its statements per batch, not per message:
one on PostgreSQL, three elsewhere (which leases are held, then a
``DELETE`` and an ``UPDATE``), for up to ``ACK_BATCH`` acknowledgements."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from djqueue.backends.base import Ack
from djqueue.backends.database import DatabaseQueue
from djqueue.backends.database.acks import ACK_BATCH, DEADLOCK_TRIES
from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements_per_batch() -> int:
    return 1 if connection.vendor == "postgresql" else 3


def statements_of_ack_many(size: int) -> int:
    """The statements of one ack_many of ``size`` leased messages, half of
    them keeping a result, half deleted; every one acknowledged."""
    queue = DatabaseQueue("acks")
    queue.write_many([make_message() for _ in range(size)])
    claimed = queue.claim("w", 30, limit=size)
    acks = [Ack(m, "r", 60 * (i % 2)) for i, m in enumerate(claimed)]
    with CaptureQueriesContext(connection) as captured:
        assert queue.ack_many(acks) == [True] * size
    return sum(
        not query["sql"].upper().startswith(TRANSACTION_CONTROL)
        for query in captured.captured_queries
    )


@pytest.mark.parametrize("size", [2, 10, ACK_BATCH])
def test_one_batch_costs_the_same_statements_whatever_its_size(size):
    assert statements_of_ack_many(size) == statements_per_batch()


def test_a_longer_batch_is_cut_in_batches_of_ack_batch():
    assert statements_of_ack_many(2 * ACK_BATCH) == 2 * statements_per_batch()


def test_an_empty_batch_costs_nothing():
    with CaptureQueriesContext(connection) as captured:
        assert DatabaseQueue("acks").ack_many([]) == []
    assert captured.captured_queries == []


class Deadlocks:
    """Stands in for the statements of a batch: the first ``times`` calls
    raise what Django raises for a deadlock's victim, the next run them."""

    def __init__(self, queue, times: int) -> None:
        self.times, self.calls = times, 0
        self.name = (
            "_ack_returning" if connection.vendor == "postgresql" else "_ack_selected"
        )
        self.finish = getattr(queue, self.name)
        setattr(queue, self.name, self)

    def __call__(self, batch, now):
        self.calls += 1
        if self.calls <= self.times:
            cause = Exception(1213, "Deadlock found when trying to get lock")
            cause.sqlstate = "40P01"
            raise OperationalError(str(cause)) from cause
        return self.finish(batch, now)


def leased_acks(queue, size=2):
    queue.write_many([make_message() for _ in range(size)])
    return [Ack(m, "r", 60) for m in queue.claim("w", 30, limit=size)]


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_loses_a_deadlock_runs_again():
    queue = DatabaseQueue("acks")
    acks = leased_acks(queue)
    deadlocks = Deadlocks(queue, DEADLOCK_TRIES - 1)

    assert queue.ack_many(acks) == [True, True]

    assert deadlocks.calls == DEADLOCK_TRIES
    assert queue.counts()[State.DONE] == 2
    queue.flush()


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_keeps_losing_deadlocks_raises_and_changes_nothing():
    queue = DatabaseQueue("acks")
    acks = leased_acks(queue)
    deadlocks = Deadlocks(queue, DEADLOCK_TRIES)

    with pytest.raises(OperationalError):
        queue.ack_many(acks)

    assert deadlocks.calls == DEADLOCK_TRIES
    assert queue.counts()[State.RUNNING] == 2
    queue.flush()


def test_inside_the_callers_transaction_a_deadlock_is_raised_at_once():
    """The database rolled back the caller's whole transaction: running
    the batch again would commit it without what came before."""
    queue = DatabaseQueue("acks")
    acks = leased_acks(queue)
    deadlocks = Deadlocks(queue, 1)

    with pytest.raises(OperationalError), transaction.atomic():
        queue.ack_many(acks)

    assert deadlocks.calls == 1
