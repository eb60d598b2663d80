"""The expiry of ``MemoryQueue`` messages not started by their deadline.

The claims expire such a message when they meet it (and note its id);
:meth:`MemoryExpiry.expire_due` names those and expires the others from
the store's index of deadlines, which holds only the messages that have
one and were never claimed.
"""

from __future__ import annotations

from datetime import datetime

from ..expiry import EXPIRE_BATCH
from .part import MemoryPart


class MemoryExpiry(MemoryPart):
    """``expire_due`` for :class:`~djqueue.backends.memory.MemoryQueue`."""

    def expire_due(
        self, now: datetime | None = None, limit: int = EXPIRE_BATCH
    ) -> list[str]:
        now = now or self.now()
        store = self.store
        with store.lock:
            expired = store.expired_news[:limit]
            del store.expired_news[:limit]
            kept_until = self.expiry(now, self.failed_ttl)
            while len(expired) < limit:
                entry = store.deadlines.first()
                if entry is None or entry[0] > (now,):
                    break
                store.deadlines.pop()
                store.expire(store.messages[entry[1]], now, kept_until)
                expired.append(entry[1])
        return expired
