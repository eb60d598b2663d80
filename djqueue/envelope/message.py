"""The message envelope that backends store.

A backend stores and returns :class:`Message` objects; it never imports user
code and never decodes ``payload``: that is the serializer's job, in the
consumer, after the signature has been verified.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from datetime import datetime
from typing import Any

from ..states import State

#: How many attempts that did not succeed (failed, retried or lost their
#: worker) a message keeps (the latest), and how much of each traceback (its
#: end, where the exception is).
MAX_ATTEMPT_ERRORS = 10
MAX_TRACEBACK_CHARS = 10_000

_id_lock = threading.Lock()
_last_id: tuple[int, int] = (0, 0)


def new_message_id() -> str:
    """Return a fresh, time-ordered message id (a version 7 UUID, as text).

    Ids made later in one process sort after earlier ones, also within one
    millisecond (a 12-bit counter, RFC 9562 method 1), so backends can break
    ties between messages ready at the same moment in the order they were
    made, and database indexes on the id grow at their end.
    """
    global _last_id
    # One read of the system's randomness: 62 bits for the id, 11 to seed
    # the counter of a new millisecond.
    random_bits = int.from_bytes(os.urandom(10))
    with _id_lock:
        millis = time.time_ns() // 1_000_000
        last_millis, counter = _last_id
        if millis <= last_millis:
            millis, counter = last_millis, counter + 1
            if counter > 0xFFF:
                millis, counter = millis + 1, random_bits >> 69
        else:
            counter = random_bits >> 69
        _last_id = (millis, counter)
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64
    value |= 0b10 << 62 | random_bits & 0x3FFF_FFFF_FFFF_FFFF
    digits = f"{value:032x}"  # what str(uuid.UUID(int=value)) gives, sooner
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


@dataclasses.dataclass(slots=True, eq=False)
class Message:
    """One queued call of a command, with the state a backend keeps for it.

    ``eta`` is the moment the message becomes (or became) ready; ``attempts``
    counts the times it was handed to a worker, including the current one.
    ``options`` carries the per-call settings the consumer needs (result TTL,
    retry delay, timeout) as JSON-compatible values. ``attempt_errors`` holds
    the last :data:`MAX_ATTEMPT_ERRORS` attempts that did not succeed (each
    with its worker, start, end, outcome and error), oldest first, kept
    through retries from the admin: see :func:`attempt_error` and, for the
    whole history with the current attempt, :func:`djqueue.envelope.history.
    attempt_history`.
    """

    id: str
    command: str
    queue: str
    payload: str
    signature: str
    serializer: str
    eta: datetime
    enqueued_at: datetime
    priority: int = 0
    attempts: int = 0
    max_attempts: int = 1
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    state: State = State.QUEUED
    lease_token: str = ""
    lease_expires_at: datetime | None = None
    worker: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: str | None = None
    error: str = ""
    traceback: str = ""
    expires_at: datetime | None = None
    #: While the message is pending, no other message holds this key.
    unique_key: str = ""
    attempt_errors: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: While the message runs, no other message of its queue with this key
    #: is claimed.
    lock_key: str = ""
    #: Its last run lost its worker (the lease expired): it may be what
    #: killed the process, so it runs alone in its consumer until it finishes.
    suspect: bool = False
    #: The message expires unrun if its first attempt has not started by
    #: then (the ``expires`` option); None for never.
    deadline: datetime | None = None
    #: What of the stored form could not be read, set by the backend that
    #: read it (empty when all of it could); such a message fails unrun.
    damaged: str = ""
    #: The progress and metadata its latest attempt reported, as stored
    #: (JSON text; empty for none): see :mod:`djqueue.envelope.progress`.
    progress: str = ""

    def __repr__(self) -> str:
        return (
            f"<Message {self.id} {self.command} queue={self.queue!r} "
            f"state={self.state} attempts={self.attempts}>"
        )


def attempt_error(
    attempt: int,
    at: datetime,
    exception: str,
    error: str,
    traceback: str,
    *,
    worker: str = "",
    started_at: datetime | None = None,
    outcome: str = "failed",
) -> dict[str, Any]:
    """Return the stored form of one attempt that did not succeed.

    A JSON object: ``attempt`` (its number, from 1, counted again from 1
    after a retry from the admin), ``worker`` (the consumer's worker id that
    ran it), ``started_at`` and ``at`` (when it started and ended, ISO 8601;
    ``started_at`` is empty when unknown), ``outcome`` (``"retried"``: it
    failed and the message runs again; ``"failed"``: it failed for good;
    ``"lost"``: its worker was lost, the lease expired), ``exception`` (the
    dotted path of the exception's class; empty when the attempt ended
    without one), ``error`` (``"Type: text"`` or another reason) and
    ``traceback`` (its last MAX_TRACEBACK_CHARS).
    """
    if len(traceback) > MAX_TRACEBACK_CHARS:
        traceback = "…" + traceback[-MAX_TRACEBACK_CHARS:]
    return {
        "attempt": attempt,
        "worker": worker,
        "started_at": started_at.isoformat() if started_at else "",
        "at": at.isoformat(),
        "outcome": outcome,
        "exception": exception,
        "error": error,
        "traceback": traceback,
    }


def with_attempt_error(
    errors: list[dict[str, Any]], entry: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return ``errors`` with ``entry`` last, replacing an entry of the same
    run (the same attempt number and start: recording an outcome again
    changes nothing), keeping the last MAX_ATTEMPT_ERRORS."""
    run = (entry["attempt"], entry.get("started_at", ""))
    kept = [e for e in errors if (e.get("attempt"), e.get("started_at", "")) != run]
    return [*kept, entry][-MAX_ATTEMPT_ERRORS:]
