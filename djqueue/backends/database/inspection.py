"""The messages of a :class:`~djqueue.backends.database.DatabaseQueue` as
operators read and change them: a message by id, the counts per state,
and retry, cancel, run now, delete and purge, each one
statement (pages and scans are in :mod:`.scan`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Min

from ...envelope.message import Message
from ...states import State
from ..inspection import CHANGES, ChangeScan, check_change
from .part import DatabasePart

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord
from .rows import FIELDS as _FIELDS
from .rows import values_to_message


class DatabaseInspection(DatabasePart):
    """Mixed into ``DatabaseQueue``; relies on its ``records``, ``now``,
    ``expiry`` and ``failed_ttl``."""

    def get(self, message_id: str) -> Message | None:
        record = self._by_id(message_id).first()
        return None if record is None else _to_message(record)

    def locate(self, message_id: str) -> str | None:
        """Find ``message_id`` among every queue of this table, by one query."""
        key = _uuid(message_id)
        if key is None:
            return None
        every_queue = self.records.model.objects.using(self.using)
        name: str | None = (
            every_queue.filter(id=key).values_list("queue", flat=True).first()
        )
        return name

    def _by_id(self, message_id: str) -> QuerySet[MessageRecord]:
        key = _uuid(message_id)
        return self.records.none() if key is None else self.records.filter(id=key)

    def counts(self) -> dict[State, int]:
        found = dict(
            self.records.order_by()
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        return {state: found.get(state.value, 0) for state in State}

    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        return self._change("retry", self._by_id(message_id), now) > 0

    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        return self._change("cancel", self._by_id(message_id), now) > 0

    def delete(self, message_id: str) -> bool:
        return self._by_id(message_id).delete()[0] > 0

    def purge(self, state: State) -> int:
        return self.records.filter(state=state).delete()[0]

    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        return self._change("run_now", self._by_id(message_id), now) > 0

    def change_messages(
        self,
        action: str,
        state: State,
        message_ids: Sequence[str],
        now: datetime | None = None,
    ) -> int:
        """One statement: only the messages still in ``state`` change."""
        check_change(action, state)
        keys = [key for key in map(_uuid, message_ids) if key is not None]
        if not keys:
            return 0
        rows = self.records.filter(id__in=keys, state=state)
        if action == "delete":
            return rows.delete()[0]
        return self._change(action, rows, now)

    def change_scan(
        self,
        action: str,
        state: State,
        cursor: str = "",
        limit: int = 1000,
        command: str | None = None,
        now: datetime | None = None,
    ) -> ChangeScan:
        """Two statements: the next ``limit`` ids in ``state`` after the
        cursor, in id order, then :meth:`change_messages` on them. The
        cursor is the last id read, so messages leaving the state during
        the scan make it neither skip nor repeat the others."""
        check_change(action, state)
        rows = self.records.filter(state=state)
        if cursor:
            after = _uuid(cursor)
            if after is None:
                raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.")
            rows = rows.filter(id__gt=after)
        if command is not None:
            rows = rows.filter(command=command)
        ids = list(rows.order_by("id").values_list("id", flat=True)[: limit + 1])
        more, ids = len(ids) > limit, ids[:limit]
        changed = self.change_messages(action, state, [str(i) for i in ids], now)
        return ChangeScan(changed, str(ids[-1]) if more else "", len(ids))

    def _change(
        self, action: str, rows: QuerySet[MessageRecord], now: datetime | None
    ) -> int:
        """Apply ``retry``, ``cancel`` or ``run_now`` to those of ``rows``
        in a state it applies to, in one ``UPDATE``; return how many."""
        now = now or self.now()
        changes: dict[str, object]
        if action == "retry":
            changes = {
                "state": State.QUEUED,
                "attempts": 0,
                "eta": now,
                "error": "",
                "traceback": "",
                "finished_at": None,
                "expires_at": None,
                "progress": "",
                # An operator asked for a run: the deadline no longer holds.
                "deadline": None,
            }
        elif action == "cancel":
            changes = {
                "state": State.CANCELLED,
                "unique_key": None,
                "suspect": False,
                "finished_at": now,
                "expires_at": self.expiry(now, self.failed_ttl),
            }
        else:
            changes = {"state": State.QUEUED, "eta": now}
        return rows.filter(state__in=CHANGES[action]).update(**changes)

    def oldest_queued_at(self) -> datetime | None:
        queued = self.records.filter(state=State.QUEUED)
        oldest: datetime | None = queued.aggregate(oldest=Min("eta"))["oldest"]
        return oldest


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def _to_message(record: MessageRecord) -> Message:
    return values_to_message({name: getattr(record, name) for name in _FIELDS})
