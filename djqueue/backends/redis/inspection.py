"""The inspection part of :class:`~djqueue.backends.redis.RedisQueue`: its
bounded twin, counts and pages of messages in a state (filtered pages are
scanned, see :mod:`.scan`), and what an operator does to one message. Each
call costs one or two round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self

from ...envelope.message import Message
from ...states import FINISHED_STATES, State
from ..base import BaseQueue
from ..inspection import MessageScan, check_change
from .connection import connection_kwargs
from .hashes import moment, stamp, text, to_message
from .matching import conditions
from .part import RedisPart

_SET_OF_STATE = {
    State.QUEUED: "ready",
    State.SCHEDULED: "scheduled",
    State.RUNNING: "running",
    State.DONE: "done",
    State.FAILED: "failed",
    State.CANCELLED: "cancelled",
    State.EXPIRED: "expired",
}
#: Finished messages are listed newest first, the others oldest first.
_NEWEST_FIRST = FINISHED_STATES


class RedisInspection(RedisPart):
    """Mixed into ``RedisQueue``; relies on its ``client``, ``key``,
    ``_run``, ``_scan_ids``, ``expiry`` and ``now``."""

    _inspection_twin: BaseQueue | None = None

    def for_inspection(self) -> BaseQueue:
        """Return a twin of this queue whose client waits at most
        ``INSPECT_TIMEOUT`` seconds to connect and for each reply, and
        retries nothing; a queue given a ready ``CLIENT`` is its own twin."""
        if not self._owns_client:
            return self
        if self._inspection_twin is None:
            self._inspection_twin = self._bounded_twin()
        return self._inspection_twin

    def _bounded_twin(self) -> Self:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        timeout = self.inspect_timeout
        bounds = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        connection = {**connection_kwargs(self.connection), **bounds}
        twin = type(self)(self.name, connection, **self.options)
        # A URL's query string wins over keyword arguments in redis-py.
        pool = getattr(twin.client, "connection_pool", None)
        pool_kwargs = getattr(pool, "connection_kwargs", None)
        if isinstance(pool_kwargs, dict):
            pool_kwargs.update(bounds)
        return twin

    def _close_inspection(self) -> None:
        if self._inspection_twin is not None:
            self._inspection_twin.close()
            self._inspection_twin = None

    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        return bool(self._run("run_now", message_id, stamp(now or self.now())))

    def oldest_queued_at(self) -> datetime | None:
        eta = self._run("oldest_queued")
        return moment(text(eta)) if eta else None

    def counts(self) -> dict[State, int]:
        pipe = self.client.pipeline(transaction=False)
        for state in State:
            pipe.zcard(self.key(_SET_OF_STATE[state]))
        return dict(zip(State, pipe.execute(), strict=True))

    def list_messages(
        self,
        state: State,
        offset: int = 0,
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> list[Message]:
        newest_first = state in _NEWEST_FIRST
        match = conditions(command, argument, error)
        if not match:
            ids = self.client.zrange(
                self.key(_SET_OF_STATE[state]),
                offset,
                offset + limit - 1,
                desc=newest_first,
            )
        else:
            pairs, _, _ = self._scan_ids(
                _SET_OF_STATE[state],
                newest_first,
                None,
                offset,
                limit,
                match,
            )
            ids = [message_id for message_id, _ in pairs]
        return self._load(ids)

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> MessageScan:
        match = conditions(command, argument, error)
        return self._scan_messages(
            _SET_OF_STATE[state], state in _NEWEST_FIRST, cursor, limit, match
        )

    def _load(self, ids: Sequence[str | bytes]) -> list[Message]:
        """The messages of ``ids`` that are still stored, in one pipeline."""
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self.key(f"m:{text(message_id)}"))
        return [
            to_message(fields, self.name, text(message_id))
            for message_id, fields in zip(ids, pipe.execute(), strict=True)
            if fields
        ]

    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        return bool(self._run("retry", message_id, stamp(now or self.now())))

    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        now = now or self.now()
        return bool(
            self._run(
                "cancel",
                message_id,
                stamp(now),
                stamp(self.expiry(now, self.failed_ttl)),
            )
        )

    def delete(self, message_id: str) -> bool:
        return bool(self._run("delete", message_id))

    def change_messages(
        self,
        action: str,
        state: State,
        message_ids: Sequence[str],
        now: datetime | None = None,
    ) -> int:
        """One program: only the messages still in ``state`` change."""
        check_change(action, state)
        if not message_ids:
            return 0
        now = now or self.now()
        expiry = stamp(self.expiry(now, self.failed_ttl))
        changed: int = self._run(
            "change_many", action, State(state).value, stamp(now), expiry, *message_ids
        )
        return changed

    def purge(self, state: State) -> int:
        purged: int = self._run("purge", _SET_OF_STATE[State(state)])
        return purged
