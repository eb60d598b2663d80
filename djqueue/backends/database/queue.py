"""``DatabaseQueue``: messages in a table, through the Django ORM.

The class, its writes, what becomes of a leased message (ack, fail, retry
later, release, extend) and the housekeeping (promotion of due messages,
reclaim of expired leases, purge of expired ones); the claims are in
:mod:`~djqueue.backends.database.claims`. A message written inside
``transaction.atomic()`` on the queue's database exists only once that
transaction commits. On PostgreSQL, a message becoming ready is notified to
waiting consumers when its transaction commits (see
:mod:`djqueue.backends.database.pg_notify`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core import checks
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import F

from ...message import Message
from ...states import State
from ..base import BaseQueue
from ..inspection import Inspection
from ..presence import ConsumerPresence
from ..reasons import WORKER_LOST
from ..statistics import RunStatistics
from ..ticks import PeriodicTicks
from ..unique import UniqueKeys
from .acks import DatabaseAcks
from .claims import DatabaseClaims
from .inserts import insert_row
from .inspection import DatabaseInspection
from .monitoring import DatabaseMonitoring
from .pg_notify import Listener
from .rows import FIELDS as _FIELDS
from .rows import record_model

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord

_PURGE_BATCH = 1000


class DatabaseQueue(
    DatabaseClaims,
    DatabaseAcks,
    DatabaseInspection,
    DatabaseMonitoring,
    Inspection,
    ConsumerPresence,
    RunStatistics,
    PeriodicTicks,
    UniqueKeys,
    BaseQueue,
):
    """A queue stored in the ``djqueue_message`` table of one database.

    ``connection`` is the alias of the database in ``DATABASES`` (empty means
    ``default``).
    """

    supports_transactions = True
    supports_blocking_claim = False
    supports_lock_keys = True
    supports_suspects = True

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        super().__init__(name, connection, **options)
        self.using = connection or DEFAULT_DB_ALIAS
        self._listener: Listener | None = None

    # The flag is computed from the database's driver; callers only read it.
    @property
    def supports_wakeup(self) -> bool:  # type: ignore[override]
        """PostgreSQL wakes waiters with NOTIFY (with psycopg 3); others poll."""
        wrapper = connections[self.using]
        return (
            wrapper.vendor == "postgresql"
            # Every wrapper holds its driver module; the stubs do not say so.
            and getattr(wrapper.Database, "__name__", "") == "psycopg"  # type: ignore[attr-defined]
        )

    @classmethod
    def check_config(
        cls, name: str, connection: Any, options: dict[str, Any]
    ) -> list[checks.CheckMessage]:
        from django.conf import settings

        errors = super().check_config(name, connection, options)
        alias = connection or DEFAULT_DB_ALIAS
        if alias not in settings.DATABASES:
            errors.append(
                checks.Error(
                    f"Queue {name!r} uses the database {alias!r}, which is not "
                    "in DATABASES.",
                    hint="Set CONNECTION to the alias of a configured database.",
                    id="djqueue.E010",
                )
            )
        return errors

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    @property
    def records(self) -> QuerySet[MessageRecord]:
        return record_model().objects.using(self.using).filter(queue=self.name)

    # -- Writing -------------------------------------------------------------

    def write(self, message: Message) -> None:
        insert_row(self.using, self._values(message, self.now()))

    def write_unique(self, message: Message) -> str:
        for _ in range(3):
            try:
                with transaction.atomic(using=self.using):
                    self.write(message)
                return message.id
            except IntegrityError:
                holder = self.records.filter(unique_key=message.unique_key)
                existing = holder.values_list("id", flat=True).first()
                if existing is not None:
                    return str(existing)
        raise IntegrityError(f"Cannot write message {message.id} with its unique key.")

    def write_many(self, messages: Sequence[Message]) -> None:
        now = self.now()
        records = [self._record(message, now) for message in messages]
        record_model().objects.using(self.using).bulk_create(records, batch_size=500)

    def _values(self, message: Message, now: datetime) -> dict[str, Any]:
        """The row of a new message, which is queued or scheduled by its eta."""
        message.state = State.SCHEDULED if message.eta > now else State.QUEUED
        message.queue = self.name
        values = {name: getattr(message, name) for name in _FIELDS}
        values["unique_key"] = message.unique_key or None
        values["lock_key"] = message.lock_key or None
        values["suspect"] = False
        return values

    def _record(self, message: Message, now: datetime) -> MessageRecord:
        return record_model()(**self._values(message, now))

    def write_tick(self, message: Message, name: str, tick: datetime) -> bool:
        from ...models import PeriodicTick

        ticks = PeriodicTick.objects.using(self.using)
        with transaction.atomic(using=self.using):
            claimed = ticks.filter(name=name, last_tick__lt=tick).update(last_tick=tick)
            if not claimed and not ticks.filter(name=name).exists():
                try:
                    with transaction.atomic(using=self.using):
                        ticks.create(name=name, last_tick=tick)
                    claimed = 1
                except IntegrityError:
                    claimed = ticks.filter(name=name, last_tick__lt=tick).update(
                        last_tick=tick
                    )
            if claimed:
                self.write(message)
        return bool(claimed)

    def flush(self) -> None:
        self.records.delete()
        self._consumer_rows.delete()
        self._count_rows.delete()

    def __len__(self) -> int:
        return self.records.filter(state=State.QUEUED).count()

    # -- Waiting and leases --------------------------------------------------

    def wait_for_messages(self, timeout: float) -> bool:
        if not self.supports_wakeup:
            return super().wait_for_messages(timeout)
        if self._listener is None:
            self._listener = Listener(self.using, self.name)
        return self._listener.wait(timeout)

    def _leased(self, message: Message) -> QuerySet[MessageRecord]:
        return self.records.filter(
            id=message.id, state=State.RUNNING, lease_token=message.lease_token
        )

    def ack(
        self,
        message: Message,
        result: str | None = None,
        result_ttl: float = 0,
        now: datetime | None = None,
    ) -> bool:
        leased = self._leased(message)
        if not result_ttl:
            return leased.delete()[0] > 0
        now = now or self.now()
        return bool(
            leased.update(
                state=State.DONE,
                unique_key=None,
                lock_held=None,
                suspect=False,
                result=result,
                error="",
                traceback="",
                finished_at=now,
                expires_at=self.expiry(now, result_ttl),
                lease_token="",
                lease_expires_at=None,
            )
        )

    def fail(
        self,
        message: Message,
        error: str,
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        return bool(
            self._leased(message).update(
                state=State.FAILED,
                unique_key=None,
                lock_held=None,
                suspect=False,
                error=error,
                traceback=traceback,
                attempt_errors=message.attempt_errors,
                finished_at=now,
                expires_at=self.expiry(now, self.failed_ttl),
                lease_token="",
                lease_expires_at=None,
            )
        )

    def retry_later(
        self,
        message: Message,
        eta: datetime,
        error: str = "",
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        return bool(
            self._leased(message).update(
                state=State.SCHEDULED if eta > now else State.QUEUED,
                suspect=False,
                eta=eta,
                error=error,
                traceback=traceback,
                attempt_errors=message.attempt_errors,
                lease_token="",
                lease_expires_at=None,
                lock_held=None,
            )
        )

    def release(self, messages: Iterable[Message]) -> int:
        released = 0
        for token, ids in _by_token(messages).items():
            released += self.records.filter(
                id__in=ids, state=State.RUNNING, lease_token=token
            ).update(
                state=State.QUEUED,
                attempts=F("attempts") - 1,
                lease_token="",
                lease_expires_at=None,
                lock_held=None,
            )
        return released

    def extend(
        self,
        messages: Iterable[Message],
        lease_seconds: float,
        now: datetime | None = None,
    ) -> int:
        lease_expires_at = self.expiry(now or self.now(), lease_seconds)
        extended = 0
        for token, ids in _by_token(messages).items():
            extended += self.records.filter(
                id__in=ids, state=State.RUNNING, lease_token=token
            ).update(lease_expires_at=lease_expires_at)
        return extended

    def promote_due(self, now: datetime | None = None) -> int:
        return self.records.filter(
            state=State.SCHEDULED, eta__lte=now or self.now()
        ).update(state=State.QUEUED)

    def reclaim_expired(self, now: datetime | None = None) -> int:
        now = now or self.now()
        expired = self.records.filter(state=State.RUNNING, lease_expires_at__lt=now)
        lost = expired.filter(attempts__gte=F("max_attempts")).update(
            state=State.FAILED,
            unique_key=None,
            lock_held=None,
            suspect=False,
            error=WORKER_LOST,
            finished_at=now,
            expires_at=self.expiry(now, self.failed_ttl),
            lease_token="",
            lease_expires_at=None,
        )
        requeued = expired.update(
            state=State.QUEUED,
            suspect=True,
            lease_token="",
            lease_expires_at=None,
            lock_held=None,
        )
        return lost + requeued

    def purge_expired(self, now: datetime | None = None) -> int:
        now = now or self.now()
        expired = self.records.filter(expires_at__lt=now)
        purged = 0
        while ids := list(expired.values_list("id", flat=True)[:_PURGE_BATCH]):
            purged += self.records.filter(id__in=ids).delete()[0]
        self._forget_dead_consumers(now)
        self._forget_old_statistics(now)
        return purged


def _by_token(messages: Iterable[Message]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        grouped[message.lease_token].append(message.id)
    return grouped
