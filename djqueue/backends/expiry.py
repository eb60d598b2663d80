"""The optional expiry part: messages not started by their deadline end
``expired``, unrun.

A backend that derives from :class:`Expiry` supports it
(``supports_expiry`` is True): it stores each message's ``deadline``, its
claims never lease a message whose first attempt would start after it, and
:meth:`Expiry.expire_due` moves such messages to ``expired``. Enqueueing a
command with ``expires`` on a queue of another backend raises at once, and
nothing is written.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime

from .base import BaseQueue

#: How many messages one call of ``expire_due`` moves at most.
EXPIRE_BATCH = 500


def expired_reason(deadline: datetime) -> str:
    """The error an expired message keeps: when (in UTC, as every backend
    writes it), and that it never ran."""
    if deadline.tzinfo is not None:
        deadline = deadline.astimezone(UTC)
    return f"expired at {deadline.isoformat()}, before it started"


class Expiry(BaseQueue):
    """Deadlines by which a message must start, or never run."""

    # Whether messages keep a deadline, past which they expire unrun.
    supports_expiry = True

    @abstractmethod
    def expire_due(
        self, now: datetime | None = None, limit: int = EXPIRE_BATCH
    ) -> list[str]:
        """Move up to ``limit`` messages whose first attempt has not started
        by their ``deadline`` (queued or scheduled, no attempt yet, the
        deadline at or before ``now``) to ``expired``, with the error
        :func:`expired_reason` gives and the retention of failed messages;
        release their unique keys; return their ids, each once, for the
        caller to announce.

        A message that has started (claimed once: a retry, a reclaim after
        its worker was lost) never expires, and until this moves them the
        claims skip the messages it would move, so none of them runs."""
