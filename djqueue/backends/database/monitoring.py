"""The consumers serving a :class:`~djqueue.backends.database.DatabaseQueue`,
its run statistics and the periodic commands' last ticks, each one statement
or a short transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from ...states import State
from ..inspection import THROUGHPUT_RETENTION, ConsumerInfo, Throughput, minute_of
from .part import DatabasePart

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import ConsumerRecord, RunCount


def _totals_minute() -> datetime:
    # The models are imported when used: the app registry must be ready.
    from ...models import TOTALS_MINUTE

    return TOTALS_MINUTE


class DatabaseMonitoring(DatabasePart):
    """Mixed into ``DatabaseQueue``; relies on its ``name``, ``using``,
    ``now`` and ``expiry``."""

    # -- Consumers -----------------------------------------------------------------

    @property
    def _consumer_rows(self) -> QuerySet[ConsumerRecord]:
        from ...models import ConsumerRecord

        return ConsumerRecord.objects.using(self.using).filter(queue=self.name)

    def register_consumer(
        self, info: ConsumerInfo, ttl: float, now: datetime | None = None
    ) -> None:
        alive_until = self.expiry(now or self.now(), ttl)
        values = {"info": info.to_json(), "alive_until": alive_until}
        self._update_or_insert(
            self._consumer_rows, {"consumer_id": info.id}, values, values
        )

    def unregister_consumer(self, consumer_id: str) -> None:
        self._consumer_rows.filter(consumer_id=consumer_id).delete()

    def consumers(self, now: datetime | None = None) -> list[ConsumerInfo]:
        rows = self._consumer_rows.filter(alive_until__gt=now or self.now())
        found = []
        for stored in rows.values_list("info", flat=True):
            try:
                found.append(ConsumerInfo.from_json(stored))
            except ValueError:
                continue
        return sorted(found, key=lambda info: info.started_at, reverse=True)

    def _forget_dead_consumers(self, now: datetime) -> int:
        return self._consumer_rows.filter(alive_until__lte=now).delete()[0]

    # -- Statistics ----------------------------------------------------------------

    @property
    def _count_rows(self) -> QuerySet[RunCount]:
        from ...models import RunCount

        return RunCount.objects.using(self.using).filter(queue=self.name)

    def record_runs(
        self,
        counts: Mapping[tuple[str, State], int],
        now: datetime | None = None,
        seconds: Mapping[tuple[str, State], float] | None = None,
    ) -> None:
        minute = minute_of(now or self.now())
        added: dict[str, dict[str, float]] = {}
        for (command, state), number in counts.items():
            if number:
                column = "done" if state == State.DONE else "failed"
                numbers = added.setdefault(command, {"done": 0, "failed": 0})
                numbers[column] += number
                took = (seconds or {}).get((command, state))
                if took:
                    numbers["seconds"] = numbers.get("seconds", 0.0) + took
        if not added:
            return
        with transaction.atomic(using=self.using):
            for command, numbers in added.items():
                for moment in (minute, _totals_minute()):
                    self._add_runs(command, moment, numbers)

    def _add_runs(
        self, command: str, minute: datetime, numbers: dict[str, float]
    ) -> None:
        increments = {name: F(name) + value for name, value in numbers.items()}
        self._update_or_insert(
            self._count_rows,
            {"command": command, "minute": minute},
            increments,
            numbers,
        )

    def _update_or_insert(
        self,
        rows: QuerySet[Any],
        key: dict[str, Any],
        changes: dict[str, Any],
        initial: dict[str, Any],
    ) -> None:
        """Apply ``changes`` to the row of this queue with ``key``, or insert
        it with ``initial`` values; a concurrent insert is updated instead."""
        if rows.filter(**key).update(**changes):
            return
        try:
            with transaction.atomic(using=self.using):
                rows.create(queue=self.name, **key, **initial)
        except IntegrityError:
            rows.filter(**key).update(**changes)

    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
        rows = (
            self._count_rows.filter(
                minute__gte=minute_of(since), minute__lte=now or self.now()
            )
            .values("minute")
            .annotate(done=Sum("done"), failed=Sum("failed"))
            .order_by("minute")
        )
        return [
            Throughput(row["minute"], row["done"], row["failed"])
            for row in rows
            if row["done"] or row["failed"]
        ]

    def command_totals(self) -> dict[str, tuple[int, int]]:
        rows = self._count_rows.filter(minute=_totals_minute())
        return {
            command: (done, failed)
            for command, done, failed in rows.values_list("command", "done", "failed")
        }

    def command_seconds(self) -> dict[str, float]:
        rows = self._count_rows.filter(minute=_totals_minute())
        return dict(rows.values_list("command", "seconds"))

    def _forget_old_statistics(self, now: datetime) -> int:
        old = self._count_rows.filter(
            minute__gt=_totals_minute(),
            minute__lt=minute_of(now - THROUGHPUT_RETENTION),
        )
        return old.delete()[0]

    def last_ticks(self) -> dict[str, datetime]:
        from ...models import PeriodicTick

        ticks = PeriodicTick.objects.using(self.using)
        return dict(ticks.values_list("name", "last_tick"))
