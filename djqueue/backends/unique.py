"""The optional unique part: at most one pending message per unique key.

A backend that derives from :class:`UniqueKeys` supports it
(``supports_unique`` is True); enqueueing a command with ``unique=True`` or
a ``unique_key`` on a queue of another backend raises at once, and nothing
is written.
"""

from __future__ import annotations

from abc import abstractmethod

from ..envelope.message import Message
from .base import BaseQueue


class UniqueKeys(BaseQueue):
    """Writes that keep one pending message per ``unique_key``."""

    # Whether write_unique() keeps one pending message per key.
    supports_unique = True

    @abstractmethod
    def write_unique(self, message: Message) -> str:
        """Store ``message`` unless a pending message (queued, scheduled or
        running) of this queue holds its ``unique_key``; return the id of the
        message that holds the key, ``message.id`` if it was stored. The key
        is released when its message finishes (done, failed, cancelled,
        expired)."""
