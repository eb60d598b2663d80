"""Rows of the ``djqueue_message`` table read back as messages, whatever
they hold.

A row written straight into the table (raw SQL, a fixture, another program)
can hold anything its columns accept: on SQLite any text in any column. A
claim must never raise on such a row, or the rows it leased with it would
wait for their lease to expire: each value is converted by Django's own
converters, and what cannot be converted becomes an empty value. The
consumer then fails the message under its id with a reason (its signature
does not verify).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connections

from ...envelope.message import Message
from ...states import State

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Field
    from django.db.models.expressions import Col

    from ...models import MessageRecord

    #: A column's name, the column and its converters.
    Reader = tuple[str, Col, list[Any]]

FIELDS = (
    "id",
    "queue",
    "command",
    "state",
    "priority",
    "eta",
    "enqueued_at",
    "attempts",
    "max_attempts",
    "serializer",
    "payload",
    "signature",
    "options",
    "lease_token",
    "lease_expires_at",
    "worker",
    "started_at",
    "finished_at",
    "result",
    "error",
    "traceback",
    "expires_at",
    "unique_key",
    "attempt_errors",
    "lock_key",
    "suspect",
    "progress",
    "deadline",
)
_INTEGERS = {"priority": 0, "attempts": 0, "max_attempts": 1}
_MOMENTS: tuple[str, ...] = ("eta", "enqueued_at", "lease_expires_at", "started_at")
_MOMENTS += ("finished_at", "expires_at", "deadline")
_EPOCH = datetime.fromtimestamp(0, UTC)
#: The value of a column whose converters raised.
_UNREADABLE = object()


def record_model() -> type[MessageRecord]:
    """The model of the table (imported when called: the app registry must
    be ready)."""
    from ...models import MessageRecord

    return MessageRecord


def fetch_rows(using: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` and return its rows as the database gave them."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def rows_to_messages(using: str, rows: Sequence[Sequence[Any]]) -> list[Message]:
    """Build Messages from rows of the values of :data:`FIELDS`, in order."""
    if not rows:
        return []
    from ...models import MessageRecord

    connection = connections[using]
    table = MessageRecord._meta.db_table
    readers: list[Reader] = []
    for name in FIELDS:
        # Every name in FIELDS is a column of the model, not a relation.
        field = cast("Field[Any, Any]", MessageRecord._meta.get_field(name))
        column = field.get_col(table)
        converters = connection.ops.get_db_converters(column)
        converters += column.get_db_converters(connection)
        readers.append((name, column, converters))
    return [values_to_message(_read(readers, row, connection)) for row in rows]


def _read(
    readers: Sequence[Reader], row: Sequence[Any], connection: BaseDatabaseWrapper
) -> dict[str, Any]:
    values = {}
    for (name, column, converters), value in zip(readers, row, strict=True):
        try:
            for converter in converters:
                value = converter(value, column, connection)
        except Exception:  # anything the value's garbage makes them raise
            value = _UNREADABLE
        values[name] = value
    return values


def values_to_message(values: dict[str, Any]) -> Message:
    """Build a Message from converted column values, replacing values of the
    wrong type with empty ones; the message is ``damaged`` if a column that
    is never empty held one."""
    unreadable = []
    for name in FIELDS:
        value = values.get(name)
        if name in _INTEGERS:
            ok = isinstance(value, int) and not isinstance(value, bool)
            values[name] = value if ok else _INTEGERS[name]
            unreadable += [] if ok else [name]
        elif name in _MOMENTS:
            ok = isinstance(value, datetime)
            values[name] = value if ok else None
            required = name in ("eta", "enqueued_at")
            unreadable += [name] if required and not ok else []
        elif name == "options":
            values[name] = value if isinstance(value, dict) else {}
        elif name == "attempt_errors":
            values[name] = value if isinstance(value, list) else []
        elif name == "suspect":
            values[name] = value is True
        elif name == "result":
            values[name] = value if isinstance(value, str) else None
        elif name != "state":
            ok = value is not _UNREADABLE
            values[name] = "" if value is None or not ok else str(value)
    values["id"] = _id(values["id"])
    epoch = _EPOCH if settings.USE_TZ else _EPOCH.replace(tzinfo=None)
    values["eta"] = values["eta"] or epoch
    values["enqueued_at"] = values["enqueued_at"] or epoch
    try:
        values["state"] = State(values["state"])
    except ValueError:
        values["state"] = State.QUEUED
    if unreadable:
        values["damaged"] = (
            f"its column(s) {', '.join(unreadable)} hold values of the wrong type"
        )
    return Message(**values)


def _id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value
