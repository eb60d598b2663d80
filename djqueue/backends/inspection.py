"""The optional inspection part: counting, listing and changing stored
messages, as the admin pages, ``queue_info`` and the metrics view do.

A backend that derives from :class:`Inspection` supports it
(``supports_inspection`` is True) and must implement its abstract methods;
on others each of these calls raises ``NotImplementedError``.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime

from ..inspection import MessageScan
from ..message import Message
from ..states import State
from .base import BaseQueue


class Inspection(BaseQueue):
    """Counts, pages, scans and the operator's actions on one queue."""

    # Whether counts, lists and the admin's actions work.
    supports_inspection = True

    @abstractmethod
    def counts(self) -> dict[State, int]:
        """Return the number of messages in each state (every state present)."""

    @abstractmethod
    def list_messages(
        self,
        state: State,
        offset: int = 0,
        limit: int = 50,
        command: str | None = None,
    ) -> list[Message]:
        """Return one page of messages in ``state``, in the order they will
        run (ready and scheduled) or most recent first (the others), only
        those of ``command`` if given. Nothing is counted: ask for one more
        than a page to learn whether another page follows. A backend that
        cannot filter on the server may examine at most
        :data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages for a
        filtered page and then return a short page."""

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
    ) -> MessageScan:
        """Return the next page of a scan through the messages in ``state``
        (only those of ``command`` if given), in :meth:`list_messages` order,
        from ``cursor`` (``""``: the start; else a cursor a previous page of
        this scan returned). Raise ``ValueError`` for a cursor that no page
        returned.

        Following the cursors until one is ``""`` reaches every message of
        the state, however deep, while no page examines more than
        :data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages: a page
        may be short, or empty, with a cursor to go on. This default filters
        in :meth:`list_messages` and its cursor is the position of the next
        page, so, as with page numbers, a message can be missed when
        messages ahead of it leave the state during the scan.
        """
        offset = _position(cursor)
        found = self.list_messages(state, offset, limit + 1, command=command)
        more = len(found) > limit
        return MessageScan(
            found[:limit], str(offset + limit) if more else "", len(found)
        )

    @abstractmethod
    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        """Put a ``failed`` or ``cancelled`` message back to ``queued`` with
        its attempts reset and its attempt errors cleared. Return False if it
        is in no such state."""

    @abstractmethod
    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        """Move a ``queued`` or ``scheduled`` message to ``cancelled``; it
        will not run. Return False if it is in no such state (a running
        message is never interrupted)."""

    @abstractmethod
    def delete(self, message_id: str) -> bool:
        """Delete a message in any state. Return False if there was none."""

    @abstractmethod
    def purge(self, state: State) -> int:
        """Delete every message of this queue in ``state``. Return how many."""

    @abstractmethod
    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        """Make a ``scheduled`` message ready at once. Return False if it is
        in no such state."""

    @abstractmethod
    def oldest_queued_at(self) -> datetime | None:
        """Return since when the longest-waiting ready message has been
        ready (its eta), or ``None`` when nothing is queued."""


def _position(cursor: str) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.")
    return int(cursor)
