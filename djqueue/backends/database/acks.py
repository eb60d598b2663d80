"""Many acknowledgements of a ``DatabaseQueue`` at once (``ack_many``).

Each message has a lease token of its own, so every acknowledgement is a
pair to match, id and token. On PostgreSQL one statement finishes up to
:data:`ACK_BATCH` of them: the pairs travel in two ``VALUES`` lists that a
``DELETE`` (no result kept) and an ``UPDATE`` (a result kept) join, in
data-modifying CTEs that return the pairs they matched. Elsewhere (SQLite,
MySQL/MariaDB, which cannot return what an ``UPDATE … FROM`` joined) one
transaction reads the rows' lease tokens, locking the rows where it can,
then deletes and updates the held ones in one statement each, the results
and expiries chosen by ``CASE`` on the id. Every statement finds its rows
by primary key alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence, Sized
from datetime import datetime
from functools import partial
from typing import Any

from django.db import OperationalError, connections, transaction

from ...states import State
from ..base import Ack
from .part import DatabasePart

#: The most acknowledgements one statement carries (SQLite allows 999
#: parameters per statement by default; each takes up to five).
ACK_BATCH = 100

#: How many times a batch runs while it keeps losing deadlocks: the
#: reclaim of expired leases locks an index's entries, then their rows,
#: while an acknowledgement locks rows, then the entries (MySQL/MariaDB).
DEADLOCK_TRIES = 3

#: A lease: the message's id, as ``str(UUID)``, and its lease token.
Lease = tuple[str, str]


class DatabaseAcks(DatabasePart):
    """``ack_many`` for :class:`~djqueue.backends.database.DatabaseQueue`."""

    def ack_many(self, acks: Sequence[Ack], now: datetime | None = None) -> list[bool]:
        """On PostgreSQL, one statement per :data:`ACK_BATCH` acknowledgements;
        elsewhere three (a ``SELECT``, a ``DELETE``, an ``UPDATE``) in one
        transaction. Either way, one commit. Outside the caller's own
        transaction, a batch chosen as a deadlock's victim (rolled back
        whole) runs again, up to :data:`DEADLOCK_TRIES` times."""
        if not acks:
            return []
        now = now or self.now()
        firsts = _first_of_each_lease(acks)
        pending = [(lease, acks[position]) for lease, position in firsts.items()]
        batches = [
            pending[start : start + ACK_BATCH]
            for start in range(0, len(pending), ACK_BATCH)
        ]
        for tries_left in range(DEADLOCK_TRIES - 1, -1, -1):
            try:
                acked = self._finish_batches(batches, now)
                break
            except OperationalError as exc:
                in_theirs = connections[self.using].in_atomic_block
                if in_theirs or not tries_left or not _deadlock(exc):
                    raise
        held = {firsts[lease] for lease in acked}
        return [position in held for position in range(len(acks))]

    def _finish_batches(
        self, batches: list[list[tuple[Lease, Ack]]], now: datetime
    ) -> set[Lease]:
        """The leases of ``batches`` that were held, now given up."""
        if connections[self.using].vendor != "postgresql":
            finish = self._ack_selected
        elif len(batches) == 1:  # one statement commits alone
            return self._ack_returning(batches[0], now)
        else:
            finish = self._ack_returning
        acked: set[Lease] = set()
        with transaction.atomic(using=self.using, savepoint=False):
            for batch in batches:
                acked |= finish(batch, now)
        return acked

    def _ack_returning(
        self, batch: list[tuple[Lease, Ack]], now: datetime
    ) -> set[Lease]:
        connection = connections[self.using]
        table = connection.ops.quote_name(self.records.model._meta.db_table)
        adapt = connection.ops.adapt_datetimefield_value
        # Only the id is compared by a condition an index can answer: on a
        # table never analyzed the planner could otherwise pick an index
        # on the queue (and walk all its rows) over the primary key.
        lease = "(%s::uuid, %s, %s, %s"
        running = [self.name, State.RUNNING.value]
        dropped: list[tuple[str, list[Any]]] = []
        kept: list[tuple[str, list[Any]]] = []
        params: list[Any] = []
        parts: list[str] = []
        for (message_id, token), (_, result, result_ttl) in batch:
            row = [uuid.UUID(message_id), token, *running]
            if result_ttl:
                expires_at = adapt(self.expiry(now, result_ttl))
                kept.append(
                    (f"{lease}, %s::text, %s::timestamptz)", [*row, result, expires_at])
                )
            else:
                dropped.append((f"{lease})", row))
        matches = (
            "m.id = acked.id AND (m.lease_token, m.queue, m.state) "
            "IS NOT DISTINCT FROM (acked.lease_token, acked.queue, acked.state)"
        )
        columns = "id, lease_token, queue, state"
        if dropped:
            parts.append(
                f"deleted AS (DELETE FROM {table} AS m USING (VALUES "
                f"{', '.join(sql for sql, _ in dropped)}) AS acked ({columns}) "
                f"WHERE {matches} RETURNING m.id, acked.lease_token)"
            )
            params += [value for _, row in dropped for value in row]
        if kept:
            parts.append(
                f"updated AS (UPDATE {table} AS m SET state = %s, unique_key = NULL, "
                "lock_held = NULL, suspect = FALSE, result = acked.result, error = '', "
                "traceback = '', finished_at = %s, expires_at = acked.expires_at, "
                "lease_token = '', lease_expires_at = NULL FROM (VALUES "
                f"{', '.join(sql for sql, _ in kept)}) AS acked "
                f"({columns}, result, expires_at) WHERE {matches} "
                "RETURNING m.id, acked.lease_token)"
            )
            params += [State.DONE.value, adapt(now)]
            params += [value for _, row in kept for value in row]
        found = " UNION ALL ".join(
            f"SELECT id, lease_token FROM {name}"
            for name, rows in (("deleted", dropped), ("updated", kept))
            if rows
        )
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {', '.join(parts)} {found}", params)
            return {(str(message_id), token) for message_id, token in cursor}

    def _ack_selected(
        self, batch: list[tuple[Lease, Ack]], now: datetime
    ) -> set[Lease]:
        """Inside a transaction: read the lease tokens of the batch's
        rows, locking them where the database can, then finish the running
        rows of this queue whose lease is held."""
        connection = connections[self.using]
        table = connection.ops.quote_name(self.records.model._meta.db_table)
        to_db = partial(
            self.records.model._meta.pk.get_db_prep_value, connection=connection
        )
        ids = {lease[0]: to_db(uuid.UUID(lease[0])) for lease, _ in batch}
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        running = (self.name, State.RUNNING.value)
        with connection.cursor() as cursor:
            # By the primary key alone: a condition on the queue could make
            # the planner walk all its rows in another index instead.
            cursor.execute(
                f"SELECT id, lease_token, queue, state FROM {table} "
                f"WHERE id IN ({_marks(ids)}){lock}",
                list(ids.values()),
            )
            current = {
                (str(uuid.UUID(str(row[0]))), row[1])
                for row in cursor
                if (row[2], row[3]) == running
            }
            held = [(ids[lease[0]], ack) for lease, ack in batch if lease in current]
            dropped = [message_id for message_id, ack in held if not ack[2]]
            kept = [(message_id, ack) for message_id, ack in held if ack[2]]
            if dropped:
                cursor.execute(
                    f"DELETE FROM {table} WHERE id IN ({_marks(dropped)})", dropped
                )
            if kept:
                cursor.execute(*self._finish_statement(table, kept, now))
        return current & {lease for lease, _ in batch}

    def _finish_statement(
        self, table: str, kept: list[tuple[Any, Ack]], now: datetime
    ) -> tuple[str, list[Any]]:
        """The ``UPDATE`` that marks the ``kept`` rows done, each with its
        own result and expiry."""
        adapt = connections[self.using].ops.adapt_datetimefield_value
        results, result_params = _by_id([(i, ack[1]) for i, ack in kept])
        expiries, expiry_params = _by_id(
            [(i, adapt(self.expiry(now, ack[2]))) for i, ack in kept]
        )
        ids = [message_id for message_id, _ in kept]
        sql = (
            f"UPDATE {table} SET state = %s, unique_key = NULL, lock_held = NULL, "
            f"suspect = %s, result = {results}, error = '', traceback = '', "
            f"finished_at = %s, expires_at = {expiries}, lease_token = '', "
            f"lease_expires_at = NULL WHERE id IN ({_marks(ids)})"
        )
        params = [State.DONE.value, False, *result_params, adapt(now)]
        return sql, [*params, *expiry_params, *ids]


def _first_of_each_lease(acks: Sequence[Ack]) -> dict[Lease, int]:
    """The position of the first acknowledgement of each lease in ``acks``:
    an ack loop would find every later one's lease already given up."""
    firsts: dict[Lease, int] = {}
    for position, (message, _, _) in enumerate(acks):
        lease = (str(uuid.UUID(message.id)), message.lease_token)
        firsts.setdefault(lease, position)
    return firsts


def _by_id(values: list[tuple[Any, Any]]) -> tuple[str, list[Any]]:
    """SQL for the value of each row id in ``values``, and its parameters:
    one parameter if the values are all equal."""
    distinct = {value for _, value in values}
    if len(distinct) == 1:
        return "%s", [distinct.pop()]
    params = [part for pair in values for part in pair]
    return f"CASE id {' '.join(['WHEN %s THEN %s'] * len(values))} END", params


def _marks(values: Sized) -> str:
    return ", ".join(["%s"] * len(values))


def _deadlock(exc: OperationalError) -> bool:
    """Whether the database ended a deadlock by rolling back the statement's
    transaction (PostgreSQL's SQLSTATE 40P01, MySQL/MariaDB's error 1213)."""
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if state == "40P01":
        return True
    return cause is not None and bool(cause.args) and cause.args[0] == 1213
