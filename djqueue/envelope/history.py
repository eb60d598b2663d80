"""A message's attempts, one by one, as the admin and the inspection API
show them.

Backends store only the attempts that did not succeed (a message's
``attempt_errors``, bounded by :data:`~djqueue.envelope.message.MAX_ATTEMPT_ERRORS`):
they are written with the retry or the failure the consumer stores anyway,
and a lost worker's attempt with the reclaim of its lease, so recording them
costs no round trip of its own. The attempt running now, or the one that
succeeded, is described by the message's own fields (worker, start, end):
:func:`attempt_history` joins both.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from ..states import State
from .message import Message, attempt_error

#: The outcomes of an attempt, in the words the pages use.
RUNNING, DONE, RETRIED, FAILED, LOST = "running", "done", "retried", "failed", "lost"


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a message: who ran it, when, and how it ended.

    ``number`` counts from 1 and starts again after a retry from the admin
    (``after_reset`` is then True on the first attempt that followed).
    ``outcome`` is one of ``"running"``, ``"done"``, ``"retried"``,
    ``"failed"`` and ``"lost"``; ``finished_at`` is None while it runs.
    """

    number: int
    worker: str
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str
    error: str = ""
    exception: str = ""
    traceback: str = ""
    after_reset: bool = False

    @property
    def duration(self) -> timedelta | None:
        """How long it ran, when both ends are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


def lost_attempt(message: Message, now: datetime, reason: str) -> dict[str, Any]:
    """The stored entry of the attempt of ``message`` whose lease expired:
    its worker and start are still the message's."""
    return attempt_error(
        message.attempts,
        now,
        "",
        reason,
        "",
        worker=message.worker,
        started_at=message.started_at,
        outcome=LOST,
    )


def attempt_history(message: Message) -> list[Attempt]:
    """Return the attempts of ``message`` that are known, oldest first: the
    stored ones, then the current one (running, done, or failed without a
    stored entry) from the message's own fields."""
    attempts: list[Attempt] = []
    for entry in message.attempt_errors:
        attempt = _from_entry(entry)
        if attempt is not None:
            attempts.append(attempt)
    current = _current(message)
    if current is not None and not any(
        (a.number, a.started_at) == (current.number, current.started_at)
        for a in attempts
    ):
        attempts.append(current)
    return [
        dataclasses.replace(attempt, after_reset=True)
        if index and attempt.number <= attempts[index - 1].number
        else attempt
        for index, attempt in enumerate(attempts)
    ]


def _current(message: Message) -> Attempt | None:
    if message.attempts < 1 or message.started_at is None:
        return None
    if message.state == State.RUNNING:
        outcome, finished_at = RUNNING, None
    elif message.state == State.DONE:
        outcome, finished_at = DONE, message.finished_at
    elif message.state == State.FAILED:
        # Without a stored entry of its own: the message failed unrun.
        outcome, finished_at = FAILED, message.finished_at
    else:
        return None
    return Attempt(
        message.attempts,
        message.worker,
        message.started_at,
        finished_at,
        outcome,
        error=message.error if outcome == FAILED else "",
        traceback=message.traceback if outcome == FAILED else "",
    )


def _from_entry(entry: Any) -> Attempt | None:
    """An attempt from its stored entry; None for one that is not an object
    with an attempt number (entries of older versions lack the worker, the
    start and the outcome: they were failures)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("attempt"), int):
        return None
    outcome = entry.get("outcome")
    return Attempt(
        entry["attempt"],
        str(entry.get("worker") or ""),
        _moment(entry.get("started_at")),
        _moment(entry.get("at")),
        outcome if outcome in (RETRIED, FAILED, LOST) else FAILED,
        error=str(entry.get("error") or ""),
        exception=str(entry.get("exception") or ""),
        traceback=str(entry.get("traceback") or ""),
    )


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
