"""The message envelope that backends store.

A backend stores and returns :class:`Message` objects; it never imports user
code and never decodes ``payload``: that is the serializer's job, in the
consumer, after the signature has been verified.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from .states import State


def new_message_id() -> str:
    """Return a fresh message id: a random UUID in its canonical text form."""
    return str(uuid.uuid4())


@dataclasses.dataclass(slots=True, eq=False)
class Message:
    """One queued call of a command, with the state a backend keeps for it.

    ``eta`` is the moment the message becomes (or became) ready; ``attempts``
    counts the times it was handed to a worker, including the current one.
    ``options`` carries the per-call settings the consumer needs (result TTL,
    retry delay, timeout) as JSON-compatible values.
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

    def __repr__(self) -> str:
        return (
            f"<Message {self.id} {self.command} queue={self.queue!r} "
            f"state={self.state} attempts={self.attempts}>"
        )
