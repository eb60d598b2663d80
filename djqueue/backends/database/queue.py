"""``DatabaseQueue``: messages in a table, through the Django ORM.

The claim takes rows in one statement: ``UPDATE … RETURNING`` over a
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``UPDATE … RETURNING`` on
SQLite (whose writers are serialized), and a short transaction with
``SELECT … FOR UPDATE SKIP LOCKED`` elsewhere (MySQL, MariaDB). A message
written inside ``transaction.atomic()`` on the queue's database exists only
once that transaction commits. On PostgreSQL, a message becoming ready is
notified to waiting consumers when its transaction commits (see
:mod:`djqueue.backends.database.pg_notify`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.core import checks
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    OperationalError,
    connections,
    transaction,
)
from django.db.models import Count, Exists, F, OuterRef, Q

from ...message import Message
from ...states import State
from ..base import BaseQueue
from .acks import DatabaseAcks
from .inserts import insert_row
from .inspection import DatabaseInspection
from .pg_notify import Listener
from .rows import FIELDS as _FIELDS
from .rows import fetch_rows, rows_to_messages, values_to_message

_LIST_ORDER = {
    State.QUEUED: ("-priority", "eta"),
    State.SCHEDULED: ("eta",),
    State.RUNNING: ("started_at",),
}
_PURGE_BATCH = 1000


def _record_model():
    from ...models import MessageRecord

    return MessageRecord


class DatabaseQueue(DatabaseAcks, DatabaseInspection, BaseQueue):
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

    @property
    def supports_wakeup(self) -> bool:
        """PostgreSQL wakes waiters with NOTIFY (with psycopg 3); others poll."""
        wrapper = connections[self.using]
        return (
            wrapper.vendor == "postgresql"
            and getattr(wrapper.Database, "__name__", "") == "psycopg"
        )

    @classmethod
    def check_config(cls, name, connection, options):
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
    def records(self):
        return _record_model().objects.using(self.using).filter(queue=self.name)

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
        _record_model().objects.using(self.using).bulk_create(records, batch_size=500)

    def _values(self, message: Message, now: datetime) -> dict[str, Any]:
        """The row of a new message, which is queued or scheduled by its eta."""
        message.state = State.SCHEDULED if message.eta > now else State.QUEUED
        message.queue = self.name
        values = {name: getattr(message, name) for name in _FIELDS}
        values["unique_key"] = message.unique_key or None
        values["lock_key"] = message.lock_key or None
        values["suspect"] = False
        return values

    def _record(self, message: Message, now: datetime):
        return _record_model()(**self._values(message, now))

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

    # -- Leases --------------------------------------------------------------

    def claim(self, worker, lease_seconds, limit=1, now=None, timeout=0):
        messages = self._claim(worker, lease_seconds, limit, now, suspect=False)
        messages.sort(key=lambda m: (-m.priority, m.eta, m.id))
        return messages

    def claim_suspect(self, worker, lease_seconds, now=None):
        claimed = self._claim(worker, lease_seconds, 1, now, suspect=True)
        return claimed[0] if claimed else None

    def has_suspects(self):
        return self.records.filter(state=State.QUEUED, suspect=True).exists()

    def _claim(self, worker, lease_seconds, limit, now, suspect):
        now = now or self.now()
        lease = (worker, uuid.uuid4().hex, self.expiry(now, lease_seconds), now)
        vendor = connections[self.using].vendor
        if vendor in ("postgresql", "sqlite"):
            claim = partial(self._claim_returning, vendor, *lease, limit, suspect)
        else:
            claim = partial(self._claim_locking, *lease, limit, suspect)
        return rows_to_messages(self.using, self._settling_lock_conflicts(claim))

    def _settling_lock_conflicts(self, claim, tries: int = 3):
        """Run ``claim``, again if a concurrent claim took the same lock key
        first (the lock's unique constraint decides); ``[]`` if it keeps
        losing."""
        connection = connections[self.using]
        for _ in range(tries):
            try:
                if not connection.in_atomic_block:
                    return claim()
                with transaction.atomic(using=self.using):
                    return claim()
            except (IntegrityError, OperationalError) as exc:
                if not _lock_conflict(exc):
                    raise
        return []

    def wait_for_messages(self, timeout: float) -> bool:
        if not self.supports_wakeup:
            return super().wait_for_messages(timeout)
        if self._listener is None:
            self._listener = Listener(self.using, self.name)
        return self._listener.wait(timeout)

    def _claim_returning(
        self, vendor, worker, token, lease_expires_at, now, limit, suspect
    ):
        sql, params = self._claim_statement(
            vendor, worker, token, lease_expires_at, now, limit, suspect
        )
        return fetch_rows(self.using, sql, params)

    def _claim_statement(
        self, vendor, worker, token, lease_expires_at, now, limit, suspect=False
    ):
        """``UPDATE … RETURNING`` of up to ``limit`` ordinary messages in
        claim order, or of suspect ones, the longest waiting first; at most
        one per lock key, none whose key a running message holds."""
        connection = connections[self.using]
        quote = connection.ops.quote_name
        table = quote(_record_model()._meta.db_table)
        columns = ", ".join(quote(name) for name in _FIELDS)
        lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
        order = _claim_order(suspect)
        # The ready rows whose lock key no running message holds, then the
        # first of each key among them. "IS NOT NULL" keeps the holders'
        # lookup, which PostgreSQL may hash, to the index's running rows.
        ready = (
            f"SELECT id, lock_key, priority, eta FROM {table} AS ready "
            "WHERE queue = %s AND state = %s AND suspect = %s "
            "AND (lock_key IS NULL OR NOT EXISTS "
            f"(SELECT 1 FROM {table} AS holder WHERE holder.queue = %s AND "
            "holder.lock_held IS NOT NULL AND holder.lock_held = ready.lock_key)) "
            f"ORDER BY {order} LIMIT %s{lock}"
        )
        first_of_key = (
            "SELECT id FROM (SELECT id, lock_key, ROW_NUMBER() OVER (PARTITION BY "
            f"lock_key ORDER BY {order}) AS key_rank FROM ({ready}) AS candidate) "
            "AS ranked WHERE lock_key IS NULL OR key_rank = 1"
        )
        sql = (
            f"UPDATE {table} SET state = %s, attempts = attempts + 1, "
            "lease_token = %s, lease_expires_at = %s, worker = %s, started_at = %s, "
            f"lock_held = lock_key WHERE id IN ({first_of_key}) RETURNING {columns}"
        )
        adapt = connection.ops.adapt_datetimefield_value
        params = [
            State.RUNNING.value, token, adapt(lease_expires_at), worker, adapt(now),
            self.name, State.QUEUED.value, suspect, self.name, limit,
        ]  # fmt: skip
        return sql, params

    def _claim_locking(self, worker, token, lease_expires_at, now, limit, suspect):
        model = _record_model()
        features = connections[self.using].features
        order = ("eta", "id") if suspect else ("-priority", "eta", "id")
        held = self.records.filter(
            lock_held__isnull=False, lock_held=OuterRef("lock_key")
        )
        with transaction.atomic(using=self.using):
            ready = (
                self.records.filter(state=State.QUEUED, suspect=suspect)
                .filter(Q(lock_key__isnull=True) | ~Exists(held))
                .order_by(*order)
            )
            if features.has_select_for_update_skip_locked:
                ready = ready.select_for_update(skip_locked=True)
            else:
                ready = ready.select_for_update()
            ids = _first_of_each_key(ready.values_list("id", "lock_key")[:limit])
            if not ids:
                return []
            model.objects.using(self.using).filter(id__in=ids).update(
                state=State.RUNNING,
                attempts=F("attempts") + 1,
                lease_token=token,
                lease_expires_at=lease_expires_at,
                worker=worker,
                started_at=now,
                lock_held=F("lock_key"),
            )
            leased = model.objects.filter(id__in=ids).values_list(*_FIELDS)
            sql, params = leased.query.get_compiler(self.using).as_sql()
            return fetch_rows(self.using, sql, params)

    def _leased(self, message: Message):
        return self.records.filter(
            id=message.id, state=State.RUNNING, lease_token=message.lease_token
        )

    def ack(self, message, result=None, result_ttl=0, now=None):
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

    def ack_and_claim(
        self, message, result, result_ttl, worker, lease_seconds, now=None
    ):
        """On PostgreSQL, one statement (so one commit) for both; the claim
        does not see the lock key the ack gives up (it runs on the statement's
        snapshot), whose release wakes waiting consumers instead. On SQLite,
        one transaction (so one commit, one wait for the disk with a
        rollback journal)."""
        vendor = connections[self.using].vendor
        if vendor == "sqlite":
            with transaction.atomic(using=self.using):
                return super().ack_and_claim(
                    message, result, result_ttl, worker, lease_seconds, now=now
                )
        if vendor != "postgresql":
            return super().ack_and_claim(
                message, result, result_ttl, worker, lease_seconds, now=now
            )
        now = now or self.now()
        combined = self._settling_lock_conflicts(
            lambda: self._ack_and_claim_statement(
                message, result, result_ttl, worker, lease_seconds, now
            ),
            tries=1,
        )
        if not combined:  # the claim lost a lock key to a concurrent one
            return super().ack_and_claim(
                message, result, result_ttl, worker, lease_seconds, now=now
            )
        return combined

    def _ack_and_claim_statement(
        self, message, result, result_ttl, worker, lease_seconds, now
    ):
        ack, ack_params = self._ack_statement(message, result, result_ttl, now)
        claim, claim_params = self._claim_statement(
            "postgresql", worker, uuid.uuid4().hex,
            self.expiry(now, lease_seconds), now, 1,
        )  # fmt: skip
        sql = (
            f"WITH acked AS ({ack}), claimed AS ({claim}) "
            "SELECT (SELECT count(*) FROM acked) AS acked, claimed.* "
            "FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE"
        )
        rows = fetch_rows(self.using, sql, [*ack_params, *claim_params])
        leased = rows_to_messages(self.using, [row[1:] for row in rows if row[1]])
        return bool(rows[0][0]), leased

    def _ack_statement(self, message, result, result_ttl, now):
        """``DELETE`` or ``UPDATE … RETURNING id`` of a leased message."""
        connection = connections[self.using]
        table = connection.ops.quote_name(_record_model()._meta.db_table)
        lease = "id = %s AND state = %s AND lease_token = %s"
        lease_params = [uuid.UUID(message.id), State.RUNNING.value, message.lease_token]
        if not result_ttl:
            return f"DELETE FROM {table} WHERE {lease} RETURNING id", lease_params
        adapt = connection.ops.adapt_datetimefield_value
        sql = (
            f"UPDATE {table} SET state = %s, unique_key = NULL, lock_held = NULL, "
            "suspect = %s, result = %s, error = '', traceback = '', finished_at = %s, "
            "expires_at = %s, lease_token = '', lease_expires_at = NULL "
            f"WHERE {lease} RETURNING id"
        )
        expires_at = self.expiry(now, result_ttl)
        params = [State.DONE.value, False, result, adapt(now), adapt(expires_at)]
        return sql, [*params, *lease_params]

    def fail(self, message, error, traceback="", now=None):
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

    def retry_later(self, message, eta, error="", traceback="", now=None):
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

    def extend(self, messages, lease_seconds, now=None):
        lease_expires_at = self.expiry(now or self.now(), lease_seconds)
        extended = 0
        for token, ids in _by_token(messages).items():
            extended += self.records.filter(
                id__in=ids, state=State.RUNNING, lease_token=token
            ).update(lease_expires_at=lease_expires_at)
        return extended

    def promote_due(self, now=None):
        return self.records.filter(
            state=State.SCHEDULED, eta__lte=now or self.now()
        ).update(state=State.QUEUED)

    def reclaim_expired(self, now=None):
        now = now or self.now()
        expired = self.records.filter(state=State.RUNNING, lease_expires_at__lt=now)
        lost = expired.filter(attempts__gte=F("max_attempts")).update(
            state=State.FAILED,
            unique_key=None,
            lock_held=None,
            suspect=False,
            error="worker lost: the lease expired while the message ran, on its "
            "last attempt (the worker was killed or hung)",
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

    def purge_expired(self, now=None):
        now = now or self.now()
        expired = self.records.filter(expires_at__lt=now)
        purged = 0
        while ids := list(expired.values_list("id", flat=True)[:_PURGE_BATCH]):
            purged += self.records.filter(id__in=ids).delete()[0]
        self._forget_dead_consumers(now)
        self._forget_old_statistics(now)
        return purged

    # -- Results and inspection ----------------------------------------------

    def get(self, message_id):
        record = self._by_id(message_id).first()
        return None if record is None else _to_message(record)

    def _by_id(self, message_id: str):
        try:
            key = uuid.UUID(str(message_id))
        except ValueError:
            return self.records.none()
        return self.records.filter(id=key)

    def counts(self):
        found = dict(
            self.records.order_by()
            .values_list("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        )
        return {state: found.get(state.value, 0) for state in State}

    def list_messages(self, state, offset=0, limit=50, command=None):
        order = _LIST_ORDER.get(state, ("-finished_at",))
        page = self.records.filter(state=state)
        if command is not None:
            page = page.filter(command=command)
        page = page.order_by(*order, "id")
        return [_to_message(row) for row in page[offset : offset + limit]]

    def retry(self, message_id, now=None):
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

    def cancel(self, message_id, now=None):
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

    def delete(self, message_id):
        return self._by_id(message_id).delete()[0] > 0

    def purge(self, state):
        return self.records.filter(state=state).delete()[0]


def _claim_order(suspect: bool) -> str:
    return "eta ASC, id ASC" if suspect else "priority DESC, eta ASC, id ASC"


def _by_token(messages: Iterable[Message]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        grouped[message.lease_token].append(message.id)
    return grouped


def _first_of_each_key(rows: Iterable[tuple[Any, str | None]]) -> list[Any]:
    """The ids of ``rows`` (in claim order), leaving out each one whose lock
    key an earlier row has."""
    ids, keys = [], set()
    for message_id, lock_key in rows:
        if lock_key is None or lock_key not in keys:
            ids.append(message_id)
            keys.add(lock_key)
    return ids


def _lock_conflict(exc: Exception) -> bool:
    """Whether a claim failed because a concurrent claim holds a lock key it
    took: the lock's unique constraint, or a deadlock between two claims
    waiting on each other's keys (PostgreSQL, MySQL/MariaDB)."""
    if isinstance(exc, IntegrityError):
        return True
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return state == "40P01" or (
        bool(getattr(cause, "args", None)) and cause.args[0] == 1213
    )


def _to_message(record) -> Message:
    return values_to_message({name: getattr(record, name) for name in _FIELDS})
