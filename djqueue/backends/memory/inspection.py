"""The inspection part of :class:`~djqueue.backends.memory.MemoryQueue`:
counts, pages and scans of the messages in a state, and what an operator
does to them.

A state's messages are sorted for each page, in the order of a
``DatabaseQueue``'s lists (ready ones by priority, eta and id, scheduled
ones by eta, running ones by start, finished ones most recently finished
first). A scan's cursor is the sort key of the last message it examined,
so messages that leave the state or join it ahead of the cursor make the
scan neither skip nor repeat the others.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import datetime

from ...envelope.message import Message
from ...states import State
from .. import base
from ..inspection import CHANGES, MessageScan, check_change
from .part import MemoryPart, copied

#: A message's place in its state's list: two numbers, then its id.
SortKey = tuple[float, float, str]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sort_key(message: Message) -> SortKey:
    state = message.state
    if state == State.QUEUED:
        return (-message.priority, message.eta.timestamp(), message.id)
    if state == State.SCHEDULED:
        return (0, message.eta.timestamp(), message.id)
    if state == State.RUNNING:
        started = message.started_at
        return (0, started.timestamp() if started else 0.0, message.id)
    finished = message.finished_at
    return (0, -finished.timestamp() if finished else 0.0, message.id)


def _cursor(key: SortKey) -> str:
    return f"{key[0]!r}:{key[1]!r}:{key[2]}"


def _parse_cursor(cursor: str) -> SortKey | None:
    if not cursor:
        return None
    parts = cursor.split(":", 2)
    try:
        if len(parts) == 3 and parts[2]:
            return (float(parts[0]), float(parts[1]), parts[2])
    except ValueError:
        pass
    raise ValueError(f"{cursor!r} is not a cursor of this queue's scans.")


def _matcher(
    command: str | None, argument: str | None, error: str | None
) -> Callable[[Message], bool]:
    """Whether a message passes the filters of ``list_messages``."""
    argument = (argument or "").translate(_ASCII_LOWER)
    error = (error or "").translate(_ASCII_LOWER)

    def matches(message: Message) -> bool:
        return (
            (command is None or message.command == command)
            and (not argument or argument in message.payload.translate(_ASCII_LOWER))
            and (not error or error in message.error.translate(_ASCII_LOWER))
        )

    return matches


class MemoryInspection(MemoryPart):
    """Mixed into ``MemoryQueue``; relies on its ``store``."""

    def _sorted(self, state: State) -> list[Message]:
        """The stored messages of ``state`` in list order; lock held."""
        return sorted(self.store.states[State(state)].values(), key=sort_key)

    def counts(self) -> dict[State, int]:
        with self.store.lock:
            return {state: len(self.store.states[state]) for state in State}

    def list_messages(
        self,
        state: State,
        offset: int = 0,
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> list[Message]:
        """Filter every message of the state: nothing bounds the search in
        memory."""
        matches = _matcher(command, argument, error)
        with self.store.lock:
            found = [m for m in self._sorted(state) if matches(m)]
            return [copied(m) for m in found[offset : offset + limit]]

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> MessageScan:
        after = _parse_cursor(cursor)
        matches = _matcher(command, argument, error)
        with self.store.lock:
            ordered = self._sorted(state)
            keys = [sort_key(m) for m in ordered]
            start = 0 if after is None else bisect.bisect_right(keys, after)
            found: list[Message] = []
            examined, position = 0, start
            while position < len(ordered) and examined < base.INSPECT_SCAN_LIMIT:
                message = ordered[position]
                examined += 1
                position += 1
                if matches(message):
                    found.append(message)
                    if len(found) > limit:
                        break
            if len(found) > limit:
                found.pop()
                next_cursor = _cursor(sort_key(found[-1])) if found else cursor
            elif position < len(ordered):
                next_cursor = _cursor(keys[position - 1])
            else:
                next_cursor = ""
            return MessageScan([copied(m) for m in found], next_cursor, examined)

    # -- The operator's changes, one message at a time -------------------------

    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        return self._change_one("retry", message_id, now)

    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        return self._change_one("cancel", message_id, now)

    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        return self._change_one("run_now", message_id, now)

    def delete(self, message_id: str) -> bool:
        with self.store.lock:
            return self.store.remove(message_id)

    def purge(self, state: State) -> int:
        store = self.store
        with store.lock:
            ids = list(store.states[State(state)])
            for message_id in ids:
                store.remove(message_id)
        return len(ids)

    def change_messages(
        self,
        action: str,
        state: State,
        message_ids: Sequence[str],
        now: datetime | None = None,
    ) -> int:
        """One step of the lock: only the messages still in ``state`` change."""
        check_change(action, state)
        now = now or self.now()
        changed = 0
        with self.store.lock:
            for message_id in message_ids:
                stored = self.store.messages.get(message_id)
                if stored is not None and stored.state == state:
                    changed += self._apply(action, stored, now)
        return changed

    def oldest_queued_at(self) -> datetime | None:
        with self.store.lock:
            entry = self.store.waiting.first()
        return None if entry is None else entry[0][0]

    def _change_one(self, action: str, message_id: str, now: datetime | None) -> bool:
        with self.store.lock:
            stored = self.store.messages.get(message_id)
            return stored is not None and self._apply(action, stored, now or self.now())

    def _apply(self, action: str, stored: Message, now: datetime) -> bool:
        """Apply ``action`` to ``stored`` if its state allows; lock held."""
        store, state = self.store, stored.state
        if action == "delete":
            return store.remove(stored.id)
        if action == "retry" and state in CHANGES["retry"]:
            stored.attempts, stored.eta, stored.deadline = 0, now, None
            stored.error = stored.traceback = stored.progress = ""
            stored.finished_at = stored.expires_at = None
            store.place(stored, State.QUEUED)
            key = stored.unique_key
            if key and not store.unique_holder(key):
                store.unique[key] = stored.id
            return True
        if action == "cancel" and state in (State.QUEUED, State.SCHEDULED):
            stored.suspect = False
            stored.finished_at = now
            stored.expires_at = self.expiry(now, self.failed_ttl)
            store.place(stored, State.CANCELLED)
            return True
        if action == "run_now" and state == State.SCHEDULED:
            stored.eta = now
            store.place(stored, State.QUEUED)
            return True
        return False
