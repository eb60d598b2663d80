"""The claims of :class:`~djqueue.backends.database.DatabaseQueue`.

A claim takes rows in one statement: ``UPDATE … RETURNING`` over a
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``UPDATE … RETURNING`` on
SQLite (whose writers are serialized), and a short transaction with
``SELECT … FOR UPDATE SKIP LOCKED`` elsewhere (MySQL, MariaDB: see
:mod:`~djqueue.backends.database.locking_claim`). It leases at
most one message per lock key and none whose key a running message holds,
and runs again when a concurrent claim took a key first. Suspect messages
(put back by a reclaim of expired leases) are claimed apart, one at a time.
On PostgreSQL, ``ack_and_claim`` acknowledges and claims in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar, cast

from django.db import IntegrityError, OperationalError, connections, transaction

from ...envelope.message import Message
from ...states import State
from .locking_claim import claim_locking
from .part import DatabasePart
from .rows import FIELDS as _FIELDS
from .rows import fetch_rows, record_model, rows_to_messages

T = TypeVar("T")


class DatabaseClaims(DatabasePart):
    """Mixed into ``DatabaseQueue``; relies on its ``name``, ``using``,
    ``records``, ``now`` and ``expiry``."""

    def claim(
        self,
        worker: str,
        lease_seconds: float,
        limit: int = 1,
        now: datetime | None = None,
        timeout: float = 0,
    ) -> list[Message]:
        messages = self._claim(worker, lease_seconds, limit, now, suspect=False)
        messages.sort(key=lambda m: (-m.priority, m.eta, m.id))
        return messages

    def claim_suspect(
        self, worker: str, lease_seconds: float, now: datetime | None = None
    ) -> Message | None:
        claimed = self._claim(worker, lease_seconds, 1, now, suspect=True)
        return claimed[0] if claimed else None

    def has_suspects(self) -> bool:
        return self.records.filter(state=State.QUEUED, suspect=True).exists()

    def _claim(
        self,
        worker: str,
        lease_seconds: float,
        limit: int,
        now: datetime | None,
        suspect: bool,
    ) -> list[Message]:
        now = now or self.now()
        lease = (worker, uuid.uuid4().hex, self.expiry(now, lease_seconds), now)
        vendor = connections[self.using].vendor
        if vendor in ("postgresql", "sqlite"):
            claim: Callable[[], list[tuple[Any, ...]]] = partial(
                self._claim_returning, vendor, *lease, limit, suspect
            )
        else:
            claim = partial(claim_locking, self, *lease, limit, suspect)
        return rows_to_messages(self.using, self._settling_lock_conflicts(claim))

    def _settling_lock_conflicts(
        self, claim: Callable[[], T], tries: int = 3
    ) -> T | list[Any]:
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

    def _claim_returning(
        self,
        vendor: str,
        worker: str,
        token: str,
        lease_expires_at: datetime | None,
        now: datetime,
        limit: int,
        suspect: bool,
    ) -> list[tuple[Any, ...]]:
        sql, params = self._claim_statement(
            vendor, worker, token, lease_expires_at, now, limit, suspect
        )
        return fetch_rows(self.using, sql, params)

    def _claim_statement(
        self,
        vendor: str,
        worker: str,
        token: str,
        lease_expires_at: datetime | None,
        now: datetime,
        limit: int,
        suspect: bool = False,
    ) -> tuple[str, list[Any]]:
        """``UPDATE … RETURNING`` of up to ``limit`` ordinary messages in
        claim order, or of suspect ones, the longest waiting first; at most
        one per lock key, none whose key a running message holds, none
        whose first attempt would start after its deadline (``expire_due``
        moves those to expired)."""
        connection = connections[self.using]
        quote = connection.ops.quote_name
        table = quote(record_model()._meta.db_table)
        columns = ", ".join(quote(name) for name in _FIELDS)
        lock = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
        order = _claim_order(suspect)
        # The ready rows whose lock key no running message holds, then the
        # first of each key among them. "IS NOT NULL" keeps the holders'
        # lookup, which PostgreSQL may hash, to the index's running rows.
        # The state is written out, not a parameter: a plan made for any
        # parameter could not use PostgreSQL's partial index of ready rows.
        ready = (
            f"SELECT id, lock_key, priority, eta FROM {table} AS ready "
            f"WHERE queue = %s AND state = '{State.QUEUED.value}' AND suspect = %s "
            "AND (deadline IS NULL OR deadline > %s OR attempts > 0) "
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
        # In the order of the placeholders: the SET clause, the ready rows'
        # queue, suspect flag and deadline, the holders' queue, the LIMIT.
        params = [
            State.RUNNING.value,
            token,
            adapt(lease_expires_at),
            worker,
            adapt(now),
            self.name,
            suspect,
            adapt(now),
            self.name,
            limit,
        ]
        return sql, params

    def ack_and_claim(
        self,
        message: Message,
        result: str | None,
        result_ttl: float,
        worker: str,
        lease_seconds: float,
        now: datetime | None = None,
    ) -> tuple[bool, list[Message]]:
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
        # Not the empty list of a lost claim: the statement's pair.
        return cast("tuple[bool, list[Message]]", combined)

    def _ack_and_claim_statement(
        self,
        message: Message,
        result: str | None,
        result_ttl: float,
        worker: str,
        lease_seconds: float,
        now: datetime,
    ) -> tuple[bool, list[Message]]:
        ack, ack_params = self._ack_statement(message, result, result_ttl, now)
        claim, claim_params = self._claim_statement(
            "postgresql",
            worker,
            uuid.uuid4().hex,
            self.expiry(now, lease_seconds),
            now,
            1,
        )
        sql = (
            f"WITH acked AS ({ack}), claimed AS ({claim}) "
            "SELECT (SELECT count(*) FROM acked) AS acked, claimed.* "
            "FROM (SELECT 1) AS one LEFT JOIN claimed ON TRUE"
        )
        rows = fetch_rows(self.using, sql, [*ack_params, *claim_params])
        leased = rows_to_messages(self.using, [row[1:] for row in rows if row[1]])
        return bool(rows[0][0]), leased

    def _ack_statement(
        self, message: Message, result: str | None, result_ttl: float, now: datetime
    ) -> tuple[str, list[Any]]:
        """``DELETE`` or ``UPDATE … RETURNING id`` of a leased message."""
        connection = connections[self.using]
        table = connection.ops.quote_name(record_model()._meta.db_table)
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


def _claim_order(suspect: bool) -> str:
    return "eta ASC, id ASC" if suspect else "priority DESC, eta ASC, id ASC"


def _lock_conflict(exc: Exception) -> bool:
    """Whether a claim failed because a concurrent claim holds a lock key it
    took: the lock's unique constraint, or a deadlock between two claims
    waiting on each other's keys (PostgreSQL, MySQL/MariaDB)."""
    if isinstance(exc, IntegrityError):
        return True
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return state == "40P01" or (
        cause is not None and bool(cause.args) and cause.args[0] == 1213
    )
