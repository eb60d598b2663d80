"""A message row written with one prepared ``INSERT``, not a model save.

``Model.save()`` compiles its ``INSERT`` afresh for every row and prepares
each of the table's 28 values through the ORM; for a queue whose enqueue is
one row that is most of its cost. The statement here is built once per
database vendor, and only the values that need it (ids, moments, JSON) go
through their field's own ``get_db_prep_save``, so every value is stored
exactly as the ORM would store it. Model signals are not sent, as with
``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.db import connections

#: Fields whose values the database adapter cannot take as Python gives them.
_PREPARED_TYPES = frozenset({"UUIDField", "DateTimeField", "JSONField"})


def insert_row(using: str, values: dict[str, Any]) -> None:
    """Insert one ``djqueue_message`` row; columns missing from ``values``
    get their field's default."""
    connection = connections[using]
    sql, plan = _plan(connection.vendor, connection.ops.quote_name)
    params = [
        value if field is None else field.get_db_prep_save(value, connection)
        for name, field, default in plan
        for value in (values.get(name, default),)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@lru_cache(maxsize=8)
def _plan(
    vendor: str, quote: Callable[[str], str]
) -> tuple[str, list[tuple[str, Any, Any]]]:
    """The INSERT of every column, and per column (attribute name, the field
    if its value must be prepared, its default)."""
    from ...models import MessageRecord

    meta = MessageRecord._meta
    fields = meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
    plan = [
        (
            field.attname,
            field if field.get_internal_type() in _PREPARED_TYPES else None,
            field.get_default() if field.has_default() else None,
        )
        for field in fields
    ]
    return sql, plan
