"""The expiry of ``DatabaseQueue`` messages not started by their deadline.

The claims skip them (one condition on the rows they read, which a message
without a deadline passes at its first column); :meth:`expire_due` moves
them to ``expired``, reading them through the partial index of the rows
that have a deadline, so messages without one cost it nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from ...states import State
from ..expiry import EXPIRE_BATCH, expired_reason
from .part import DatabasePart


class DatabaseExpiry(DatabasePart):
    """``expire_due`` for :class:`~djqueue.backends.database.DatabaseQueue`;
    relies on its ``failed_ttl`` and ``expiry``."""

    def expire_due(
        self, now: datetime | None = None, limit: int = EXPIRE_BATCH
    ) -> list[str]:
        now = now or self.now()
        due = self.records.filter(
            deadline__lte=now,
            state__in=(State.QUEUED, State.SCHEDULED),
            attempts=0,
        )
        # Read first, outside a transaction: a round with nothing to expire,
        # the usual one, takes no write lock (SQLite's IMMEDIATE mode would).
        candidates = list(due.values_list("id", "deadline")[:limit])
        if not candidates:
            return []
        retained_until = self.expiry(now, self.failed_ttl)
        expired: list[str] = []
        with transaction.atomic(using=self.using):
            for message_id, deadline in candidates:
                if deadline is None:  # never: the filter reads deadline__lte
                    continue
                # One row at a time, by its id and the filter again: a claim
                # or another consumer's expiry that took it since leaves it
                # alone here, and each id is answered by one call only.
                moved = due.filter(id=message_id).update(
                    state=State.EXPIRED,
                    error=expired_reason(deadline),
                    traceback="",
                    unique_key=None,
                    suspect=False,
                    finished_at=now,
                    expires_at=retained_until,
                )
                if moved:
                    expired.append(str(message_id))
        return expired
