"""The messages of a :class:`~djqueue.backends.database.DatabaseQueue` as
operators read and change them: a message by id, the counts per state, a
page of one state, and retry, cancel, run now, delete and purge, each one
statement."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Min

from ...message import Message
from ...states import State
from .part import DatabasePart

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord
from .rows import FIELDS as _FIELDS
from .rows import values_to_message

_LIST_ORDER = {
    State.QUEUED: ("-priority", "eta"),
    State.SCHEDULED: ("eta",),
    State.RUNNING: ("started_at",),
}


class DatabaseInspection(DatabasePart):
    """Mixed into ``DatabaseQueue``; relies on its ``records``, ``now``,
    ``expiry`` and ``failed_ttl``."""

    def get(self, message_id: str) -> Message | None:
        record = self._by_id(message_id).first()
        return None if record is None else _to_message(record)

    def _by_id(self, message_id: str) -> QuerySet[MessageRecord]:
        try:
            key = uuid.UUID(str(message_id))
        except ValueError:
            return self.records.none()
        return self.records.filter(id=key)

    def counts(self) -> dict[State, int]:
        found = dict(
            self.records.order_by()
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        return {state: found.get(state.value, 0) for state in State}

    def list_messages(
        self, state: State, offset: int = 0, limit: int = 50, command: str | None = None
    ) -> list[Message]:
        order = _LIST_ORDER.get(state, ("-finished_at",))
        page = self.records.filter(state=state)
        if command is not None:
            page = page.filter(command=command)
        page = page.order_by(*order, "id")
        return [_to_message(row) for row in page[offset : offset + limit]]

    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        return bool(
            self._by_id(message_id)
            .filter(state__in=[State.FAILED, State.CANCELLED])
            .update(
                state=State.QUEUED,
                attempts=0,
                eta=now or self.now(),
                error="",
                traceback="",
                attempt_errors=[],
                finished_at=None,
                expires_at=None,
            )
        )

    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        now = now or self.now()
        return bool(
            self._by_id(message_id)
            .filter(state__in=[State.QUEUED, State.SCHEDULED])
            .update(
                state=State.CANCELLED,
                unique_key=None,
                suspect=False,
                finished_at=now,
                expires_at=self.expiry(now, self.failed_ttl),
            )
        )

    def delete(self, message_id: str) -> bool:
        return self._by_id(message_id).delete()[0] > 0

    def purge(self, state: State) -> int:
        return self.records.filter(state=state).delete()[0]

    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        return bool(
            self._by_id(message_id)
            .filter(state=State.SCHEDULED)
            .update(state=State.QUEUED, eta=now or self.now())
        )

    def oldest_queued_at(self) -> datetime | None:
        queued = self.records.filter(state=State.QUEUED)
        oldest: datetime | None = queued.aggregate(oldest=Min("eta"))["oldest"]
        return oldest


def _to_message(record: MessageRecord) -> Message:
    return values_to_message({name: getattr(record, name) for name in _FIELDS})
