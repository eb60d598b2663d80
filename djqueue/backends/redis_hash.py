"""How a message is kept in a Redis hash, and read back.

Every value is stored as text; moments are Unix timestamps with microsecond
precision. Reading never raises on garbage: what cannot be read becomes a
default, and the consumer then fails the message with a reason (its payload
will not verify).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from ..message import Message
from ..states import State

_DATETIMES = (
    "eta", "enqueued_at", "lease_expires_at", "started_at", "finished_at", "expires_at",
)  # fmt: skip
_EPOCH = datetime.fromtimestamp(0, UTC)

#: Ready-set scores count tenths of a millisecond from 2020-01-01 within
#: bands of 4e13 per priority: exact in a double for priorities -100 to 100
#: until 2146. Equal scores fall back to the time-ordered message id.
SCORE_EPOCH = 1577836800


def score(priority: int, eta: datetime) -> float:
    """The ready set's score: higher priority first, then earlier eta."""
    return -priority * 4e13 + math.floor((float(stamp(eta)) - SCORE_EPOCH) * 10000)


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.timestamp():.6f}"


def text(value: Any) -> str:
    """Return a stored value as text, replacing bytes that are not UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def fields(message: Message) -> dict[str, str | int]:
    """Return the hash fields of a message being written."""
    return {
        "id": message.id,
        "command": message.command,
        "queue": message.queue,
        "payload": message.payload,
        "signature": message.signature,
        "serializer": message.serializer,
        "eta": stamp(message.eta),
        "enqueued_at": stamp(message.enqueued_at),
        "priority": message.priority,
        "attempts": message.attempts,
        "max_attempts": message.max_attempts,
        "options": json.dumps(message.options, separators=(",", ":")),
        "state": message.state.value,
        "unique_key": message.unique_key,
    }


def to_message(raw: Any, queue: str) -> Message:
    """Build a Message from a hash (a dict, or the flat list a script returns)."""
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=False))
    data = {text(k): text(v) for k, v in raw.items()}
    moments = {name: _moment(data.get(name, "")) for name in _DATETIMES}
    try:
        state = State(data.get("state", ""))
    except ValueError:
        state = State.QUEUED
    return Message(
        id=data.get("id", ""),
        command=data.get("command", ""),
        queue=queue,
        payload=data.get("payload", ""),
        signature=data.get("signature", ""),
        serializer=data.get("serializer", ""),
        eta=moments["eta"] or _EPOCH,
        enqueued_at=moments["enqueued_at"] or _EPOCH,
        priority=_int(data.get("priority")),
        attempts=_int(data.get("attempts")),
        max_attempts=_int(data.get("max_attempts"), 1),
        options=_options(data.get("options", "")),
        state=state,
        lease_token=data.get("lease_token", ""),
        lease_expires_at=moments["lease_expires_at"],
        worker=data.get("worker", ""),
        started_at=moments["started_at"],
        finished_at=moments["finished_at"],
        result=data.get("result") or None,
        error=data.get("error", ""),
        traceback=data.get("traceback", ""),
        expires_at=moments["expires_at"],
        unique_key=data.get("unique_key", ""),
    )


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _options(text: str) -> dict[str, Any]:
    try:
        options = json.loads(text) if text else {}
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}
