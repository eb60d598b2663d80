"""``DatabaseQueue``: messages in a table, through the Django ORM.

The class, its writes and the housekeeping (promotion of due messages,
purge of expired ones); the claims are in
:mod:`~djqueue.backends.database.claims`, what becomes of a leased message
(ack, fail, retry later, release, extend) in
:mod:`~djqueue.backends.database.leases`, and the reclaim of expired leases
in :mod:`~djqueue.backends.database.reclaim`. A message written inside
``transaction.atomic()`` on the queue's database exists only once that
transaction commits; a queue on a database other than ``default`` is
outside the caller's transaction on ``default``, and its writes made inside
one wait for that transaction's commit unless ``ON_COMMIT`` is ``False``
(see :attr:`DatabaseQueue.supports_transactions`). On PostgreSQL, a message
becoming ready is notified to waiting consumers when its transaction
commits (see :mod:`djqueue.backends.database.pg_notify`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core import checks
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction

from ...envelope.message import Message
from ...states import State
from ..base import BaseQueue
from ..expiry import Expiry
from ..inspection import Inspection
from ..pausing import Pausing
from ..presence import ConsumerPresence
from ..progress import ProgressReports
from ..statistics import RunStatistics
from ..ticks import PeriodicTicks
from ..unique import UniqueKeys
from .acks import DatabaseAcks
from .claims import DatabaseClaims
from .expiry import DatabaseExpiry
from .inserts import insert_row
from .inspection import DatabaseInspection
from .leases import DatabaseLeases
from .monitoring import DatabaseMonitoring
from .pausing import DatabasePausing
from .pg_notify import Listener
from .reclaim import DatabaseReclaim
from .rows import FIELDS as _FIELDS
from .rows import record_model
from .scan import DatabaseScan

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord

_PURGE_BATCH = 1000


def _is_postgresql_alias(alias: object) -> bool:
    from django.conf import settings

    if not isinstance(alias, str) or alias not in settings.DATABASES:
        return False
    return connections[alias].vendor == "postgresql"


class DatabaseQueue(
    DatabaseClaims,
    DatabaseLeases,
    DatabaseAcks,
    DatabaseReclaim,
    DatabaseInspection,
    DatabaseScan,
    DatabaseMonitoring,
    DatabasePausing,
    DatabaseExpiry,
    Inspection,
    ConsumerPresence,
    RunStatistics,
    PeriodicTicks,
    UniqueKeys,
    Pausing,
    ProgressReports,
    Expiry,
    BaseQueue,
):
    """A queue stored in the ``djqueue_message`` table of one database.

    ``connection`` is the alias of the database in ``DATABASES`` (empty means
    ``default``); on another alias than ``default``, the router of
    :mod:`djqueue.backends.database.router` puts djqueue's tables there. On
    PostgreSQL, consumers LISTEN on a connection to the alias of the
    ``LISTEN_CONNECTION`` option, the queue's own by default: an alias that
    reaches the same database directly when the queue's goes through a
    pooler in transaction mode.
    """

    option_names = BaseQueue.option_names | {"LISTEN_CONNECTION"}

    supports_blocking_claim = False
    supports_lock_keys = True
    supports_suspects = True

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        super().__init__(name, connection, **options)
        self.using = connection or DEFAULT_DB_ALIAS
        #: The alias of the database the consumers LISTEN on.
        self.listen_using: str = options.get("LISTEN_CONNECTION") or self.using
        self._listener: Listener | None = None

    # The flags are computed from the settings; callers only read them.
    @property
    def supports_transactions(self) -> bool:  # type: ignore[override]
        """A message is part of the caller's transaction on ``default`` only
        when the queue's database is ``default``.

        On another alias, a write inside ``transaction.atomic()`` on
        ``default`` is deferred to that transaction's commit (and never made
        if it rolls back), as for any backend outside the transaction,
        unless the queue's ``ON_COMMIT`` is ``False``; a write inside
        ``transaction.atomic(using=<the queue's alias>)`` alone is part of
        that transaction.
        """
        return self.using == DEFAULT_DB_ALIAS

    @property
    def supports_wakeup(self) -> bool:  # type: ignore[override]
        """PostgreSQL wakes waiters with NOTIFY (with psycopg 3 on the
        listening connection); others poll."""
        listening = connections[self.listen_using]
        return (
            connections[self.using].vendor == "postgresql"
            and listening.vendor == "postgresql"
            # Every wrapper holds its driver module; the stubs do not say so.
            and getattr(listening.Database, "__name__", "") == "psycopg"  # type: ignore[attr-defined]
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
        listen = options.get("LISTEN_CONNECTION")
        if listen is not None and not _is_postgresql_alias(listen):
            errors.append(
                checks.Error(
                    f"Queue {name!r} has OPTIONS['LISTEN_CONNECTION'] = "
                    f"{listen!r}, which is not the alias of a PostgreSQL "
                    "database in DATABASES.",
                    hint="Name an alias that connects to the queue's "
                    "PostgreSQL database directly, not through a pooler in "
                    "transaction mode; or remove the option.",
                    id="djqueue.E014",
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
        self._pause_rows.delete()

    def __len__(self) -> int:
        return self.records.filter(state=State.QUEUED).count()

    # -- Waiting and housekeeping --------------------------------------------

    def wait_for_messages(self, timeout: float) -> bool:
        if not self.supports_wakeup:
            return super().wait_for_messages(timeout)
        if self._listener is None:
            self._listener = Listener(self.listen_using, self.name, self.using)
        return self._listener.wait(timeout)

    def promote_due(self, now: datetime | None = None) -> int:
        return self.records.filter(
            state=State.SCHEDULED, eta__lte=now or self.now()
        ).update(state=State.QUEUED)

    def purge_expired(self, now: datetime | None = None) -> int:
        now = now or self.now()
        expired = self.records.filter(expires_at__lt=now)
        purged = 0
        while ids := list(expired.values_list("id", flat=True)[:_PURGE_BATCH]):
            purged += self.records.filter(id__in=ids).delete()[0]
        self._forget_dead_consumers(now)
        self._forget_old_statistics(now)
        return purged
