"""DatabaseQueue.ack_many pays its statements per batch, not per message:
one on PostgreSQL, three elsewhere (which leases are held, then a
``DELETE`` and an ``UPDATE``), for up to ``ACK_BATCH`` acknowledgements."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djqueue.backends.base import Ack
from djqueue.backends.database import DatabaseQueue
from djqueue.backends.database_acks import ACK_BATCH

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
