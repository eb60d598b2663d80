"""The consumers serving a :class:`~djqueue.backends.database.DatabaseQueue`,
its run statistics and the periodic commands' last ticks, each one statement
or a short transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from ...inspection import THROUGHPUT_RETENTION, ConsumerInfo, Throughput, minute_of
from ...states import State


def _models():
    from ... import models

    return models


class DatabaseMonitoring:
    """Mixed into ``DatabaseQueue``; relies on its ``name``, ``using``,
    ``now`` and ``expiry``."""

    # -- Consumers -----------------------------------------------------------------

    @property
    def _consumer_rows(self):
        return (
            _models().ConsumerRecord.objects.using(self.using).filter(queue=self.name)
        )

    def register_consumer(self, info, ttl, now=None):
        alive_until = self.expiry(now or self.now(), ttl)
        values = {"info": info.to_json(), "alive_until": alive_until}
        self._update_or_insert(
            self._consumer_rows, {"consumer_id": info.id}, values, values
        )

    def unregister_consumer(self, consumer_id):
        self._consumer_rows.filter(consumer_id=consumer_id).delete()

    def consumers(self, now=None):
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
    def _count_rows(self):
        return _models().RunCount.objects.using(self.using).filter(queue=self.name)

    def record_runs(self, counts, now=None):
        minute = minute_of(now or self.now())
        added: dict[str, dict[str, int]] = {}
        for (command, state), number in counts.items():
            if number:
                column = "done" if state == State.DONE else "failed"
                added.setdefault(command, {"done": 0, "failed": 0})[column] += number
        if not added:
            return
        with transaction.atomic(using=self.using):
            for command, numbers in added.items():
                for moment in (minute, _models().TOTALS_MINUTE):
                    self._add_runs(command, moment, numbers)

    def _add_runs(self, command: str, minute: datetime, numbers: dict[str, int]):
        increments = {name: F(name) + value for name, value in numbers.items()}
        self._update_or_insert(
            self._count_rows,
            {"command": command, "minute": minute},
            increments,
            numbers,
        )

    def _update_or_insert(self, rows, key: dict, changes: dict, initial: dict):
        """Apply ``changes`` to the row of this queue with ``key``, or insert
        it with ``initial`` values; a concurrent insert is updated instead."""
        if rows.filter(**key).update(**changes):
            return
        try:
            with transaction.atomic(using=self.using):
                rows.create(queue=self.name, **key, **initial)
        except IntegrityError:
            rows.filter(**key).update(**changes)

    def throughput(self, since, now=None):
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

    def command_totals(self):
        rows = self._count_rows.filter(minute=_models().TOTALS_MINUTE)
        return {
            command: (done, failed)
            for command, done, failed in rows.values_list("command", "done", "failed")
        }

    def _forget_old_statistics(self, now: datetime) -> int:
        old = self._count_rows.filter(
            minute__gt=_models().TOTALS_MINUTE,
            minute__lt=minute_of(now - THROUGHPUT_RETENTION),
        )
        return old.delete()[0]

    def last_ticks(self):
        ticks = _models().PeriodicTick.objects.using(self.using)
        return dict(ticks.values_list("name", "last_tick"))
