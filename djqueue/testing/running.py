"""Run the messages of a queue in the caller's thread, at a chosen time."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from ..backends.base import BaseQueue
from ..backends.handler import get_queue
from ..consumer.execution import execute
from ..consumer.housekeeping import expire_all
from ..consumer.outcomes import announce, store_outcome
from ..envelope.message import Message
from .deferred import write_deferred

#: The worker name the runs are leased to (shown in attempts and history).
WORKER = "djqueue.testing"

#: How long a run's lease lasts; the run ends within the call.
LEASE_SECONDS = 3600.0

#: Runs one call makes at most: a command that enqueues itself again and
#: again would otherwise never let it return.
MAX_RUNS = 1000


def run_enqueued(
    queue: BaseQueue | str | None = None,
    *,
    now: datetime | None = None,
    max_runs: int = MAX_RUNS,
) -> list[Message]:
    """Run every message of ``queue`` (a queue or its name; default the
    ``"default"`` queue) that is ready at ``now`` (default: the current
    time), in this thread, and return them with their outcomes, in the
    order they ran.

    Each run is what a consumer does: the message is claimed (attempts,
    lease and lock keys as in a consumer), executed, and its outcome is
    stored and announced with the consumer's functions, so results,
    attempt errors, history and the ``message_finished``,
    ``message_retried`` and ``message_failed`` signals are as with
    ``run_queue``. Scheduled messages whose eta is at or before ``now`` are
    promoted first; later ones stay scheduled. Messages not started by
    their deadline at ``now`` expire, unrun, as a consumer's housekeeping
    expires them (``message_expired`` is sent), and are not returned. A
    failed run with retries left is scheduled at its retry eta, reckoned
    from ``now``: it runs again in a later call whose ``now`` is past that
    eta. Messages enqueued by the runs themselves run in the same call when
    they are ready.

    Everything happens in the caller's thread and database connection, so
    inside a ``TestCase`` the runs see, and write in, the test's
    transaction (for a ``DatabaseQueue`` on the test's database alias).
    Messages that a backend without transactions (Redis) holds back until
    the transaction commits are written first (see
    :func:`~djqueue.testing.deferred.write_deferred`).
    Raise ``RuntimeError`` after ``max_runs`` runs.
    """
    if queue is None or isinstance(queue, str):
        queue = get_queue(queue or "default")
    moment = now or timezone.now()

    def clock() -> datetime:
        return moment

    ran: list[Message] = []
    while True:
        write_deferred()
        queue.promote_due(now=moment)
        expire_all([queue], moment)
        claimed = queue.claim(WORKER, LEASE_SECONDS, limit=1, now=moment)
        if not claimed:
            return ran
        if len(ran) >= max_runs:
            queue.release(claimed)
            raise RuntimeError(
                f"run_enqueued() stopped after {max_runs} runs; a command "
                "may keep enqueueing itself"
            )
        message = claimed[0]
        outcome = execute(message, clock)
        if store_outcome(queue, message, outcome, now=moment):
            announce(message, outcome)
        message.state = outcome.state
        message.result = outcome.result
        message.error = outcome.error
        message.traceback = outcome.traceback
        ran.append(message)
