"""The optional inspection part: counting, listing and changing stored
messages, as the admin pages, ``queue_info`` and the metrics view do.

A backend that derives from :class:`Inspection` supports it
(``supports_inspection`` is True) and must implement its abstract methods;
on others each of these calls raises ``NotImplementedError``. What the
inspection, presence and statistics parts return is defined in
:mod:`~djqueue.backends.records` and importable from here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from ..envelope.message import Message
from ..states import State
from .base import BaseQueue
from .records import (
    CHANGES,
    MAX_RUNNING_SHOWN,
    THROUGHPUT_RETENTION,
    ChangeScan,
    ConsumerInfo,
    MessageScan,
    RunningMessage,
    Throughput,
    check_change,
    minute_of,
)

__all__ = [
    "CHANGES",
    "MAX_RUNNING_SHOWN",
    "THROUGHPUT_RETENTION",
    "ChangeScan",
    "ConsumerInfo",
    "Inspection",
    "MessageScan",
    "RunningMessage",
    "Throughput",
    "check_change",
    "minute_of",
]


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
        argument: str | None = None,
        error: str | None = None,
    ) -> list[Message]:
        """Return one page of messages in ``state``, in the order they will
        run (ready and scheduled) or most recent first (the others). Filters
        that are given all apply: ``command`` is the command's exact name,
        ``argument`` a text the encoded arguments (the payload) contain and
        ``error`` a text the last error contains, both compared without
        regard to ASCII case. Nothing is counted: ask for one more than a
        page to learn whether another page follows. A backend that cannot
        filter on the server may examine at most
        :data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages for a
        filtered page and then return a short page."""

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> MessageScan:
        """Return the next page of a scan through the messages in ``state``
        (only those that match the filters given, as in
        :meth:`list_messages`), in :meth:`list_messages` order,
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
        found = self.list_messages(
            state, offset, limit + 1, command=command, argument=argument, error=error
        )
        more = len(found) > limit
        return MessageScan(
            found[:limit], str(offset + limit) if more else "", len(found)
        )

    @abstractmethod
    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        """Put a ``failed``, ``cancelled`` or ``expired`` message back to
        ``queued`` with its attempts reset (its next attempt is number 1
        again), its last error and its deadline cleared; its
        ``attempt_errors`` are kept, so the history of its attempts goes
        on. Return False if it is in no such state."""

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

    def change_messages(
        self,
        action: str,
        state: State,
        message_ids: Sequence[str],
        now: datetime | None = None,
    ) -> int:
        """Apply ``action`` (``retry``, ``cancel``, ``run_now`` or ``delete``)
        to each of ``message_ids`` that is in ``state``; return how many
        changed. A message that left ``state`` (retried by someone else, now
        running, gone) is left alone. Raise ``ValueError`` if ``action``
        does not apply to ``state`` (see :data:`CHANGES`).

        This default reads each message, then changes it: two calls per
        message, and a message that leaves ``state`` between the two can
        still be changed if ``action`` applies to its new state (``delete``
        applies to every state). Backends override it with one atomic call.
        """
        check_change(action, state)
        changed = 0
        for message_id in message_ids:
            message = self.get(message_id)
            if message is None or message.state != state:
                continue
            if action == "delete":
                changed += self.delete(message_id)
            else:
                changed += getattr(self, action)(message_id, now)
        return changed

    def change_scan(
        self,
        action: str,
        state: State,
        cursor: str = "",
        limit: int = 1000,
        command: str | None = None,
        now: datetime | None = None,
    ) -> ChangeScan:
        """Apply ``action`` to the next ``limit`` messages in ``state`` (of
        ``command`` if given) from ``cursor`` (``""``: the start; else a
        cursor a previous step returned), with :meth:`change_messages`.

        Following the cursors until one is ``""`` reaches every message that
        stays in ``state`` meanwhile, each once, while no step examines more
        than ``limit`` matches or
        :data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages. Raise
        ``ValueError`` for a cursor that no step returned, or if ``action``
        does not apply to ``state``.

        This default steps through :meth:`scan_messages`. The cursors of a
        backend that overrides it are used as they are: they must name a
        message, not a position, as a ``RedisQueue``'s do. The default
        scan's cursor is a position: the next step goes on past the messages
        this one did not change, so one that leaves ``state`` on its own
        during the step makes the next step miss one message.
        """
        check_change(action, state)
        scan = self.scan_messages(state, cursor, limit, command=command)
        ids = [message.id for message in scan.messages]
        changed = self.change_messages(action, state, ids, now)
        next_cursor = scan.cursor
        positional = type(self).scan_messages is Inspection.scan_messages
        if next_cursor and positional:
            next_cursor = str(_position(cursor) + len(ids) - changed)
        return ChangeScan(changed, next_cursor, scan.examined)

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
