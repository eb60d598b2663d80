"""Bounded scans through the messages of a state of a ``RedisQueue``.

Redis cannot filter a sorted set by the fields of the hashes its members
name, so a filter examines messages one by one, in a program
(``scripts/scan_ids.lua``). One call examines at most
:data:`~djqueue.backends.base.INSPECT_SCAN_LIMIT` messages; a text search
stops sooner, after the message that took the text it searched to
:data:`~djqueue.backends.base.INSPECT_SCAN_BYTES` (Redis runs one script
at a time: the bound keeps its other clients from waiting long). It
returns a cursor, the score and id of the last message it examined, from
which the next call goes on. The cursor names a message, not a position:
messages that leave the state or join it ahead of the cursor (claims,
acknowledgements, expiry) make the scan neither skip nor repeat the others.

A match is a list of conditions on hash fields: ``command`` equals a name,
``payload`` (the encoded arguments) or ``error`` contains a text without
regard to ASCII case; each filter adds a condition, not another scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..inspection import ChangeScan, MessageScan, check_change
from .hashes import text
from .matching import conditions
from .part import RedisPart

if TYPE_CHECKING:
    from datetime import datetime

    from ...states import State
    from .part import Condition, ScanPosition


class RedisScan(RedisPart):
    """Mixed into ``RedisQueue``; relies on its ``_run`` and ``_load``."""

    def _scan_ids(
        self,
        state_set: str,
        newest_first: bool,
        after: ScanPosition | None,
        skip: int,
        limit: int,
        match: Sequence[Condition],
    ) -> tuple[list[tuple[str, str]], ScanPosition | None, int]:
        """Run one bounded scan: return the ``(id, score)`` pairs found, the
        ``(score, id)`` of the last message examined (``None`` at the end of
        the set) and how many were examined."""
        from ..base import INSPECT_SCAN_BYTES, INSPECT_SCAN_LIMIT

        score, member = after or ("", "")
        arguments = [value for condition in match for value in condition]
        found, last_score, last_id, at_end, examined = self._run(
            "scan_ids",
            state_set,
            "1" if newest_first else "0",
            score,
            member,
            skip,
            limit,
            INSPECT_SCAN_LIMIT,
            INSPECT_SCAN_BYTES,
            *arguments,
        )
        pairs = [(text(found[i]), text(found[i + 1])) for i in range(0, len(found), 2)]
        last = None if at_end else (text(last_score), text(last_id))
        return pairs, last, examined

    def _scan_messages(
        self,
        state_set: str,
        newest_first: bool,
        cursor: str,
        limit: int,
        match: Sequence[Condition],
    ) -> MessageScan:
        """One page of a scan (see :meth:`BaseQueue.scan_messages`): one more
        match than the page is looked for, to know whether to go on."""
        pairs, last, examined = self._scan_ids(
            state_set, newest_first, _parse_cursor(cursor), 0, limit + 1, match
        )
        if len(pairs) > limit:
            pairs = pairs[:limit]
            message_id, score = pairs[-1]
            last = (score, message_id)
        next_cursor = "" if last is None else f"{last[0]}:{last[1]}"
        messages = self._load([message_id for message_id, _ in pairs])
        return MessageScan(messages, next_cursor, examined)

    def change_scan(
        self,
        action: str,
        state: State,
        cursor: str = "",
        limit: int = 1000,
        command: str | None = None,
        now: datetime | None = None,
    ) -> ChangeScan:
        """Two programs: one bounded scan for the next ``limit`` matches,
        then ``change_many`` on them. The cursor names the last message
        examined, as a list's does."""
        from .inspection import _NEWEST_FIRST, _SET_OF_STATE

        check_change(action, state)
        match = conditions(command, None, None)
        pairs, last, examined = self._scan_ids(
            _SET_OF_STATE[state],
            state in _NEWEST_FIRST,
            _parse_cursor(cursor),
            0,
            limit,
            match,
        )
        ids = [message_id for message_id, _ in pairs]
        changed = self.change_messages(action, state, ids, now)
        next_cursor = "" if last is None else f"{last[0]}:{last[1]}"
        return ChangeScan(changed, next_cursor, examined)


def _parse_cursor(cursor: str) -> tuple[str, str] | None:
    if not cursor:
        return None
    score, _, member = cursor.partition(":")
    try:
        float(score)
    except ValueError:
        member = ""
    if not member:
        raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.")
    return score, member
