"""Pages and bounded scans through the messages of a state of a
:class:`~djqueue.backends.database.DatabaseQueue`.

A filter on the command is an indexed equality (the ``djqueue_command``
index on queue, state and command). A filter on the arguments or on the
error is a substring of a text column, which no portable index answers, so
it examines a bounded window: at most
:data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages of the state (of
the command, if one is given), found by the index, in list order. A scan's
cursor names the last message examined by the values it is ordered by, not
by a position: messages that leave the state ahead of it make the scan
neither skip nor repeat the others.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from ...envelope.message import Message
from ...states import State
from ..inspection import MessageScan
from .part import DatabasePart
from .rows import FIELDS, values_to_message

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord

#: The order of each state's list, the message id last; the others (the
#: finished states) are listed most recently finished first.
_LIST_ORDER = {
    State.QUEUED: ("-priority", "eta", "id"),
    State.SCHEDULED: ("eta", "id"),
    State.RUNNING: ("started_at", "id"),
}
_FINISHED_ORDER = ("-finished_at", "id")


def list_order(state: State) -> tuple[str, ...]:
    return _LIST_ORDER.get(state, _FINISHED_ORDER)


class DatabaseScan(DatabasePart):
    """Mixed into ``DatabaseQueue``; relies on its ``records``."""

    def list_messages(
        self,
        state: State,
        offset: int = 0,
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> list[Message]:
        order = list_order(state)
        rows = self._state_rows(state, command).order_by(*order)
        text = _text_filter(argument, error)
        if text is not None:
            rows = _window(rows, order).filter(text)
        return _messages(rows[offset : offset + limit])

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> MessageScan:
        order = list_order(state)
        rows = self._state_rows(state, command)
        if cursor:
            rows = rows.filter(_after(order, _parse_cursor(cursor, order)))
        rows = rows.order_by(*order)
        text = _text_filter(argument, error)
        window, bound, examined = rows, None, 0
        if text is not None:
            window, bound, examined = _bounded(rows, order)
            window = window.filter(text)
        found = list(window.values(*FIELDS)[: limit + 1])
        if len(found) > limit:
            found = found[:limit]
            bound = _keys(found[-1], order)
        next_cursor = "" if bound is None else _format_cursor(bound)
        messages = [values_to_message(values) for values in found]
        return MessageScan(messages, next_cursor, examined or len(found))

    def _state_rows(self, state: State, command: str | None) -> QuerySet[MessageRecord]:
        rows = self.records.filter(state=state)
        return rows if command is None else rows.filter(command=command)


def _messages(rows: QuerySet[MessageRecord]) -> list[Message]:
    return [values_to_message(values) for values in rows.values(*FIELDS)]


def _text_filter(argument: str | None, error: str | None) -> Q | None:
    """The substring conditions of the filters given, or None."""
    found = Q()
    if argument:
        found &= Q(payload__icontains=argument)
    if error:
        found &= Q(error__icontains=error)
    return found or None


def _window(
    rows: QuerySet[MessageRecord], order: tuple[str, ...]
) -> QuerySet[MessageRecord]:
    """The first ``INSPECT_SCAN_LIMIT`` of the ordered ``rows``."""
    return _bounded(rows, order)[0]


def _bounded(
    rows: QuerySet[MessageRecord], order: tuple[str, ...]
) -> tuple[QuerySet[MessageRecord], tuple[Any, ...] | None, int]:
    """The first ``INSPECT_SCAN_LIMIT`` of the ordered ``rows``, the order
    keys of the last of them (``None`` if they are all the rows) and how
    many they are: one query reads the last one's keys, at the limit's
    offset, a second counts them when they are fewer."""
    from ..base import INSPECT_SCAN_LIMIT

    names = [name.lstrip("-") for name in order]
    last = list(rows.values_list(*names)[INSPECT_SCAN_LIMIT - 1 : INSPECT_SCAN_LIMIT])
    if not last:
        return rows, None, rows[:INSPECT_SCAN_LIMIT].count()
    return rows.filter(_up_to(order, last[0])), tuple(last[0]), INSPECT_SCAN_LIMIT


def _after(order: tuple[str, ...], keys: tuple[Any, ...]) -> Q:
    """The rows that come after the row of ``keys`` in ``order``."""
    return _beyond(order, keys, later=True)


def _up_to(order: tuple[str, ...], keys: tuple[Any, ...]) -> Q:
    """The rows that come before the row of ``keys`` in ``order``, and it."""
    return _beyond(order, keys, later=False)


def _beyond(order: tuple[str, ...], keys: tuple[Any, ...], later: bool) -> Q:
    """Later rows (or earlier ones and the row itself) than ``keys``, as
    nested comparisons of each order column, the last one (the id) unique."""
    found = _compare(order[-1], keys[-1], later, inclusive=not later)
    for position in reversed(range(len(order) - 1)):
        column, key = order[position], keys[position]
        same = Q(**{column.lstrip("-"): key})
        found = _compare(column, key, later, inclusive=False) | (same & found)
    return found


def _compare(column: str, key: Any, later: bool, inclusive: bool) -> Q:
    ascending = not column.startswith("-")
    lookup = ("gt" if ascending == later else "lt") + ("e" if inclusive else "")
    return Q(**{f"{column.lstrip('-')}__{lookup}": key})


def _keys(values: dict[str, Any], order: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(values[name.lstrip("-")] for name in order)


def _format_cursor(keys: tuple[Any, ...]) -> str:
    return ",".join(
        key.isoformat() if isinstance(key, datetime) else str(key) for key in keys
    )


def _parse_cursor(cursor: str, order: tuple[str, ...]) -> tuple[Any, ...]:
    parts = cursor.split(",")
    try:
        if len(parts) != len(order):
            raise ValueError(cursor)
        return tuple(
            _parse_key(name.lstrip("-"), part)
            for name, part in zip(order, parts, strict=True)
        )
    except ValueError:
        raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.") from None


def _parse_key(name: str, text: str) -> Any:
    if name == "id":
        return uuid.UUID(text)
    if name == "priority":
        return int(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment
