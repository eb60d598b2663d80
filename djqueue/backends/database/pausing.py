"""The pause of a ``DatabaseQueue``: one row of ``djqueue_queue_pause`` per
paused queue, keyed by the queue's name, on the queue's database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from ..pausing import Pause, check_pause
from .part import DatabasePart

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import QueuePause


def _as_pause(row: QueuePause) -> Pause:
    return Pause(by=row.paused_by, since=row.paused_at, reason=row.reason)


class DatabasePausing(DatabasePart):
    """Pause, resume and read the pause of the queue."""

    @property
    def _pause_rows(self) -> QuerySet[QueuePause]:
        from ...models import QueuePause

        return QueuePause.objects.using(self.using).filter(queue=self.name)

    def pause(self, by: str, reason: str = "", now: datetime | None = None) -> Pause:
        from ...models import QueuePause

        check_pause(by, reason)
        for _ in range(3):
            if (row := self._pause_rows.first()) is not None:
                return _as_pause(row)
            try:
                with transaction.atomic(using=self.using):
                    row = QueuePause.objects.using(self.using).create(
                        queue=self.name,
                        paused_by=by,
                        paused_at=now or self.now(),
                        reason=reason,
                    )
                return _as_pause(row)
            except IntegrityError:
                continue  # paused at the same moment: read who did
        raise IntegrityError(f"Cannot pause queue {self.name!r}.")

    def resume(self) -> Pause | None:
        row = self._pause_rows.first()
        if row is None or not self._pause_rows.delete()[0]:
            return None
        return _as_pause(row)

    def pause_state(self) -> Pause | None:
        row = self._pause_rows.first()
        return None if row is None else _as_pause(row)
