"""The claim of a ``DatabaseQueue`` on a database without ``UPDATE …
RETURNING`` (MySQL, MariaDB): one short transaction selects the ready rows
with ``SELECT … FOR UPDATE SKIP LOCKED`` (plain ``FOR UPDATE`` where
``SKIP LOCKED`` is missing), marks them ``running``, and reads them back.
PostgreSQL and SQLite claim in one statement instead
(:mod:`~djqueue.backends.database.claims`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import Exists, F, OuterRef, Q

from ...states import State
from .part import DatabasePart
from .rows import FIELDS as _FIELDS
from .rows import fetch_rows, record_model


def claim_locking(
    queue: DatabasePart,
    worker: str,
    token: str,
    lease_expires_at: datetime | None,
    now: datetime,
    limit: int,
    suspect: bool,
) -> list[tuple[Any, ...]]:
    """Lease up to ``limit`` ready messages of ``queue`` in claim order (the
    suspect ones, the longest waiting first, if ``suspect``), at most one per
    lock key, none whose key a running message holds and none whose first
    attempt would start after its deadline; return their rows.

    The ready rows are locked (skipping those another claim locked, where
    the database can) until the transaction has marked them ``running``,
    so no two claims lease the same message."""
    model = record_model()
    features = connections[queue.using].features
    order = ("eta", "id") if suspect else ("-priority", "eta", "id")
    held = queue.records.filter(lock_held__isnull=False, lock_held=OuterRef("lock_key"))
    with transaction.atomic(using=queue.using):
        ready = (
            queue.records.filter(state=State.QUEUED, suspect=suspect)
            .filter(Q(deadline__isnull=True) | Q(deadline__gt=now) | Q(attempts__gt=0))
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
        model.objects.using(queue.using).filter(id__in=ids).update(
            state=State.RUNNING,
            attempts=F("attempts") + 1,
            lease_token=token,
            lease_expires_at=lease_expires_at,
            worker=worker,
            started_at=now,
            lock_held=F("lock_key"),
        )
        leased = model.objects.filter(id__in=ids).values_list(*_FIELDS)
        sql, params = leased.query.get_compiler(queue.using).as_sql()
        return fetch_rows(queue.using, sql, params)


def _first_of_each_key(rows: Iterable[tuple[Any, str | None]]) -> list[Any]:
    """The ids of ``rows`` (in claim order), leaving out each one whose lock
    key an earlier row has."""
    ids: list[Any] = []
    keys: set[str | None] = set()
    for message_id, lock_key in rows:
        if lock_key is None or lock_key not in keys:
            ids.append(message_id)
            keys.add(lock_key)
    return ids
