"""Many acknowledgements of a ``DatabaseQueue`` at once (``ack_many``).

Each message has a lease token of its own, so every acknowledgement is a
pair to match, id and token. On PostgreSQL one statement finishes up to
:data:`ACK_BATCH` of them: the pairs travel as a ``VALUES`` list that a
``DELETE`` (no result kept) and an ``UPDATE`` (a result kept) join, in
data-modifying CTEs that return the pairs they matched. Elsewhere (SQLite,
MySQL/MariaDB, which cannot return what an ``UPDATE … FROM`` joined) one
transaction reads which pairs are still leased, locking them where it can,
then deletes and updates those rows in one statement each, the results and
expiries chosen by ``CASE`` on the id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import connections, transaction
from django.db.models import Case, DateTimeField, Q, TextField, Value, When

from ..states import State
from .base import Ack

#: The most acknowledgements one statement carries (SQLite allows 999
#: parameters per statement by default; each takes up to five).
ACK_BATCH = 100

#: A lease: the message's id, as ``str(UUID)``, and its lease token.
Lease = tuple[str, str]


class DatabaseAcks:
    """``ack_many`` for :class:`~djqueue.backends.database.DatabaseQueue`."""

    def ack_many(self, acks: Sequence[Ack], now: datetime | None = None) -> list[bool]:
        """On PostgreSQL, one statement per :data:`ACK_BATCH` acknowledgements;
        elsewhere three (a ``SELECT``, a ``DELETE``, an ``UPDATE``) in one
        transaction. Either way, one commit."""
        if not acks:
            return []
        now = now or self.now()
        firsts = _first_of_each_lease(acks)
        pending = [(lease, acks[position]) for lease, position in firsts.items()]
        batches = [
            pending[start : start + ACK_BATCH]
            for start in range(0, len(pending), ACK_BATCH)
        ]
        postgresql = connections[self.using].vendor == "postgresql"
        finish = self._ack_returning if postgresql else self._ack_selected
        acked: set[Lease] = set()
        if postgresql and len(batches) == 1:  # one statement commits alone
            acked = finish(batches[0], now)
        else:
            with transaction.atomic(using=self.using, savepoint=False):
                for batch in batches:
                    acked |= finish(batch, now)
        held = {firsts[lease] for lease in acked}
        return [position in held for position in range(len(acks))]

    def _ack_returning(self, batch: list[tuple[Lease, Ack]], now) -> set[Lease]:
        connection = connections[self.using]
        table = connection.ops.quote_name(self.records.model._meta.db_table)
        adapt = connection.ops.adapt_datetimefield_value
        rows, values = [], []
        for (message_id, token), (_, result, result_ttl) in batch:
            rows.append("(%s::uuid, %s, %s, %s::text, %s::timestamptz)")
            expires_at = self.expiry(now, result_ttl) if result_ttl else None
            values += [uuid.UUID(message_id), token, bool(result_ttl), result]
            values.append(adapt(expires_at))
        leased = (
            "m.id = acked.id AND m.lease_token = acked.lease_token "
            "AND m.queue = %s AND m.state = %s"
        )
        sql = (
            "WITH acked (id, lease_token, keep, result, expires_at) AS "
            f"(VALUES {', '.join(rows)}), "
            f"deleted AS (DELETE FROM {table} AS m USING acked WHERE {leased} "
            "AND NOT acked.keep RETURNING m.id, acked.lease_token), "
            f"updated AS (UPDATE {table} AS m SET state = %s, unique_key = NULL, "
            "lock_held = NULL, suspect = FALSE, result = acked.result, error = '', "
            "traceback = '', finished_at = %s, expires_at = acked.expires_at, "
            "lease_token = '', lease_expires_at = NULL "
            f"FROM acked WHERE {leased} AND acked.keep "
            "RETURNING m.id, acked.lease_token) "
            "SELECT id, lease_token FROM deleted "
            "UNION ALL SELECT id, lease_token FROM updated"
        )
        running = [self.name, State.RUNNING.value]
        params = [*values, *running, State.DONE.value, adapt(now), *running]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {(str(message_id), token) for message_id, token in cursor}

    def _ack_selected(self, batch: list[tuple[Lease, Ack]], now) -> set[Lease]:
        """Inside a transaction: which leases are held, then finish them."""
        matching = Q()
        for (message_id, token), _ in batch:
            matching |= Q(id=message_id, lease_token=token)
        running = self.records.filter(state=State.RUNNING)
        found = running.filter(matching).select_for_update()
        held = {(str(i), token) for i, token in found.values_list("id", "lease_token")}
        kept = [(lease[0], ack) for lease, ack in batch if lease in held and ack[2]]
        dropped = [lease[0] for lease, ack in batch if lease in held and not ack[2]]
        if dropped:
            running.filter(id__in=dropped).delete()
        if kept:
            running.filter(id__in=[message_id for message_id, _ in kept]).update(
                state=State.DONE,
                unique_key=None,
                lock_held=None,
                suspect=False,
                result=_by_id(
                    {message_id: ack[1] for message_id, ack in kept}, TextField()
                ),
                error="",
                traceback="",
                finished_at=now,
                expires_at=_by_id(
                    {mid: self.expiry(now, ack[2]) for mid, ack in kept},
                    DateTimeField(),
                ),
                lease_token="",
                lease_expires_at=None,
            )
        return held


def _first_of_each_lease(acks: Sequence[Ack]) -> dict[Lease, int]:
    """The position of the first acknowledgement of each lease in ``acks``:
    an ack loop would find every later one's lease already given up."""
    firsts: dict[Lease, int] = {}
    for position, (message, _, _) in enumerate(acks):
        lease = (str(uuid.UUID(message.id)), message.lease_token)
        firsts.setdefault(lease, position)
    return firsts


def _by_id(values: dict[str, object], field) -> Value | Case:
    """The value for each message id, as one value if they are all equal."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return Value(distinct.pop(), output_field=field)
    whens = [
        When(id=key, then=Value(value, output_field=field))
        for key, value in values.items()
    ]
    return Case(*whens, output_field=field)
