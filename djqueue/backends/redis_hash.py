"""How a message is kept in a Redis hash, and read back.

The parts of a message that never change once it is written (id, payload,
signature, serializer, enqueue time, options) are one JSON object in the
field ``envelope``; the parts the scripts read or change (command, state,
eta, priority, attempts, lease, outcome, attempt errors, unique and lock
keys) are fields of their own, and ``suspect`` is 1 while the message is
suspect. Every value is stored as text; moments are Unix timestamps with
microsecond precision. Reading never raises on garbage: what cannot be read
becomes a default, and the consumer then fails the message, under the id its
hash is stored under, with a reason (its signature will not verify).
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
_COUNTS = ("priority", "attempts", "max_attempts")
_ENVELOPE = frozenset(
    {"id", "payload", "signature", "serializer", "enqueued_at", "options"}
)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

#: Ready-set scores count tenths of a millisecond from 2020-01-01 within
#: bands of 4e13 per priority: exact in a double for priorities -100 to 100
#: until 2146. Equal scores fall back to the time-ordered message id.
SCORE_EPOCH = 1577836800
#: Suspect messages score -8e15 plus their eta's tenths of a millisecond,
#: below this, before every ordinary message.
SUSPECT_CEILING = -6e15


def score(priority: int, eta: datetime) -> float:
    """The ready set's score: higher priority first, then earlier eta."""
    priority = max(-100, min(100, priority))
    return -priority * 4e13 + math.floor((float(stamp(eta)) - SCORE_EPOCH) * 10000)


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.timestamp():.6f}"


def text(value: Any) -> str:
    """Return a stored value as text, replacing bytes that are not UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def envelope(message: Message) -> str:
    """Return the JSON of the parts of a message that never change."""
    return _ENCODER.encode(
        {
            "id": message.id,
            "payload": message.payload,
            "signature": message.signature,
            "serializer": message.serializer,
            "enqueued_at": stamp(message.enqueued_at),
            "options": message.options,
        }
    )


def attempt_errors(message: Message) -> str:
    """Return the JSON of a message's ``attempt_errors``."""
    return _ENCODER.encode(message.attempt_errors)


def fields(message: Message) -> dict[str, str | int]:
    """Return the hash fields of a message being written."""
    written: dict[str, str | int] = {
        "envelope": envelope(message),
        "command": message.command,
        "state": message.state.value,
        "eta": stamp(message.eta),
        "priority": message.priority,
        "attempts": message.attempts,
        "max_attempts": message.max_attempts,
    }
    if message.unique_key:
        written["unique_key"] = message.unique_key
    if message.lock_key:
        written["lock_key"] = message.lock_key
    return written


def write_arguments(message: Message) -> list[str | int]:
    """The values the write scripts store, in the order ``place()`` takes
    them; the state comes from the scheduled flag."""
    return [
        envelope(message), message.command, stamp(message.eta), message.priority,
        message.attempts, message.max_attempts, message.unique_key, message.lock_key,
    ]  # fmt: skip


def to_message(raw: Any, queue: str, message_id: str = "") -> Message:
    """Build a Message from a hash (a dict, or the flat list a script returns).

    The id is the one the hash is stored under: ``message_id``, else the
    ``id`` field the claim script adds, else the envelope's. A signed
    envelope copied under another id therefore does not verify.
    """
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=False))
    data = {text(k): text(v) for k, v in raw.items()}
    envelope = _envelope(data.pop("envelope", ""))
    stored_id = message_id or data.get("id") or envelope.get("id", "")
    data.update(envelope)
    data["id"] = stored_id
    moments = {name: _moment(data.get(name, "")) for name in _DATETIMES}
    try:
        state = State(data.get("state", ""))
    except ValueError:
        state = State.QUEUED
    options = envelope.get("options")
    unreadable = [name for name in ("eta", "enqueued_at") if moments[name] is None]
    unreadable += [name for name in _COUNTS if not _is_int(data.get(name))]
    return Message(
        damaged=_damage(unreadable),
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
        options=options if isinstance(options, dict) else {},
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
        attempt_errors=_attempt_errors(data.get("attempt_errors", "")),
        lock_key=data.get("lock_key", ""),
        suspect=data.get("suspect") == "1",
    )


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def _damage(unreadable: list[str]) -> str:
    if not unreadable:
        return ""
    return f"its field(s) {', '.join(unreadable)} are missing or unreadable"


def _is_int(text: str | None) -> bool:
    try:
        int(text or "")
    except ValueError:
        return False
    return True


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _attempt_errors(text: str) -> list[dict[str, Any]]:
    """The stored attempt errors; those that are not JSON objects are left out."""
    try:
        errors = json.loads(text) if text else []
    except ValueError:
        return []
    if not isinstance(errors, list):
        return []
    return [error for error in errors if isinstance(error, dict)]


def _envelope(text: str) -> dict[str, Any]:
    """The envelope's parts; those of the wrong type are left out."""
    try:
        envelope = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(envelope, dict):
        return {}
    return {
        name: value
        for name, value in envelope.items()
        if name in _ENVELOPE and isinstance(value, dict if name == "options" else str)
    }
