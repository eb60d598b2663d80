"""The reclaim of expired leases of a ``DatabaseQueue``.

A running message whose lease expired lost its worker: it goes back to the
queue, suspect, or fails for good on its last attempt. Either way the lost
attempt joins the message's ``attempt_errors`` with the worker and start the
row still holds, so the history of its attempts shows it. Leases expire
rarely (a worker was killed or hung): the reclaim reads the expired rows,
then updates each by its primary key and lease token, in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from ...envelope.history import lost_attempt
from ...envelope.message import Message, with_attempt_error
from ...states import State
from ..base import Reclaimed
from ..reasons import LEASE_EXPIRED, WORKER_LOST
from .part import DatabasePart

#: The most expired leases one reclaim gives up; the next takes the rest.
RECLAIM_BATCH = 1000

_COLUMNS = (
    "id",
    "lease_token",
    "attempts",
    "max_attempts",
    "worker",
    "started_at",
    "attempt_errors",
)


class DatabaseReclaim(DatabasePart):
    """``reclaim_expired`` for :class:`~djqueue.backends.database.DatabaseQueue`."""

    def reclaim_expired(self, now: datetime | None = None) -> int:
        return self.reclaim(now).taken

    def reclaim(self, now: datetime | None = None) -> Reclaimed:
        now = now or self.now()
        expired = self.records.filter(state=State.RUNNING, lease_expires_at__lt=now)
        reclaimed, failed = 0, []
        with transaction.atomic(using=self.using):
            for row in expired.values_list(*_COLUMNS)[:RECLAIM_BATCH]:
                taken = self._reclaim_one(*row, now=now)
                reclaimed += taken
                # attempts >= max_attempts: the lease expired on the last one.
                if taken and row[2] >= row[3]:
                    failed.append(str(row[0]))
        return Reclaimed(reclaimed, failed)

    def _reclaim_one(
        self,
        message_id: Any,
        token: str,
        attempts: int,
        max_attempts: int,
        worker: str,
        started_at: Any,
        errors: Any,
        *,
        now: datetime,
    ) -> int:
        """Give up one expired lease, recording its attempt as lost."""
        last = attempts >= max_attempts
        ran = Message(
            id=str(message_id),
            command="",
            queue=self.name,
            payload="",
            signature="",
            serializer="",
            eta=now,
            enqueued_at=now,
            attempts=attempts,
            worker=worker or "",
            started_at=started_at if isinstance(started_at, datetime) else None,
        )
        entry = lost_attempt(ran, now, WORKER_LOST if last else LEASE_EXPIRED)
        history = with_attempt_error(errors if isinstance(errors, list) else [], entry)
        leased = self.records.filter(
            id=message_id, state=State.RUNNING, lease_token=token
        )
        if last:
            return leased.update(
                state=State.FAILED,
                unique_key=None,
                lock_held=None,
                suspect=False,
                error=WORKER_LOST,
                attempt_errors=history,
                finished_at=now,
                expires_at=self.expiry(now, self.failed_ttl),
                lease_token="",
                lease_expires_at=None,
            )
        return leased.update(
            state=State.QUEUED,
            suspect=True,
            attempt_errors=history,
            lease_token="",
            lease_expires_at=None,
            lock_held=None,
            progress="",
        )
