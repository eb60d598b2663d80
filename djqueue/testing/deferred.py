"""Write the messages a transaction still holds back until its commit."""

from __future__ import annotations

from django.db import connections

#: The attribute :mod:`djqueue.commands.enqueue` sets on a deferred write.
MARK = "djqueue_deferred_write"


def write_deferred() -> int:
    """Write now, in enqueue order, the messages that enqueues inside an
    open transaction deferred to its commit (a backend that is not
    transactional, such as Redis): inside a ``TestCase``, whose transaction
    never commits, they would never be written. Other ``on_commit``
    callbacks stay where they are. Return how many writes ran."""
    ran = 0
    for connection in connections.all(initialized_only=True):
        pending = [
            entry
            for entry in connection.run_on_commit
            if getattr(entry[1], MARK, False)
        ]
        for entry in pending:
            connection.run_on_commit.remove(entry)
            entry[1]()
            ran += 1
    return ran
