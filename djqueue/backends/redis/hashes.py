"""How a message is kept in a Redis hash, and read back.

Each part of a message is a field of its own, holding text; moments are
Unix timestamps with microsecond precision. What the reader can derive is
not stored: the id is the one in the key, ``serializer`` is left out for
``json`` and ``options`` holds only the options that differ from those a
command has by default. So the hash of a small call, queued or done with
its result, keeps every value under Redis's ``hash-max-listpack-value``
(64 bytes) and is stored in the compact listpack encoding. ``suspect`` is
1 while the message is suspect; ``progress`` exists once a running command
reported some. Reading never raises on garbage: what
cannot be read becomes a default, and the consumer then fails the message
under the id its hash is stored under, with a reason (its signature will
not verify).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ...conf import DEFAULTS
from ...envelope.message import Message
from ...states import State

_DATETIMES = (
    "eta",
    "enqueued_at",
    "lease_expires_at",
    "started_at",
    "finished_at",
    "expires_at",
    "deadline",
)
_EPOCH = datetime.fromtimestamp(0, UTC)
_COUNTS = ("priority", "attempts", "max_attempts")
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
#: The options of a command without options (see enqueue.build_message),
#: with the default QUEUE_RESULT_TTL: stored as no ``options`` field.
STANDARD_OPTIONS: dict[str, Any] = {
    "retries": 0,
    "result_ttl": DEFAULTS["QUEUE_RESULT_TTL"],
    "retry_delay": 0,
    "retry_on": None,
    "timeout": None,
}
#: Stored ``options`` that start with this hold the standard ones that
#: differ (and any others); otherwise they are the whole options object.
_CHANGED = "+"

#: A moment as :func:`stamp` writes it.
_STAMP = re.compile(r"\d+\.\d+")


def stamp(when: datetime | None) -> str:
    return "" if when is None else f"{when.timestamp():.6f}"


def text(value: Any) -> str:
    """Return a stored value as text, replacing bytes that are not UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def attempt_errors(message: Message) -> str:
    """Return the JSON of a message's ``attempt_errors``."""
    return _ENCODER.encode(message.attempt_errors)


def placed(message: Message, stamps: dict[datetime, str]) -> list[str | int]:
    """The values of a new message that the write scripts' ``place()``
    takes, in its order; the state comes from the eta. ``stamps`` keeps
    the text of moments across the messages of one write."""
    serializer = message.serializer
    eta = stamps.get(message.eta)
    if eta is None:
        eta = stamps[message.eta] = stamp(message.eta)
    enqueued = stamps.get(message.enqueued_at)
    if enqueued is None:
        enqueued = stamps[message.enqueued_at] = stamp(message.enqueued_at)
    return [
        message.id,
        message.command,
        eta,
        message.priority,
        message.attempts,
        message.max_attempts,
        message.payload,
        message.signature,
        enqueued,
        "" if serializer == "json" else serializer,
        pack_options(message.options),
        message.unique_key,
        message.lock_key,
        stamp(message.deadline),
    ]


def pack_options(options: dict[str, Any]) -> str:
    """The stored text of ``options``: ``""`` for the standard options, the
    differing ones after ``+`` when it has every standard key, else the
    whole object. :func:`unpack_options` gives back an equal dict, with
    equal types (``0`` is not ``0.0`` nor ``False``)."""
    changed = {}
    for name, standard in STANDARD_OPTIONS.items():
        if name not in options:
            return _ENCODER.encode(options)
        value = options[name]
        if type(value) is not type(standard) or value != standard:
            changed[name] = value
    if len(options) == len(STANDARD_OPTIONS) and not changed:
        return ""
    changed.update((k, v) for k, v in options.items() if k not in STANDARD_OPTIONS)
    return _CHANGED + _ENCODER.encode(changed)


def unpack_options(text: str) -> dict[str, Any] | None:
    """The options stored as ``text``, or None if they are not an object."""
    if not text:
        return dict(STANDARD_OPTIONS)
    changed = text.startswith(_CHANGED)
    try:
        options = json.loads(text[1:] if changed else text)
    except ValueError:
        return None
    if not isinstance(options, dict):
        return None
    return {**STANDARD_OPTIONS, **options} if changed else options


def to_message(raw: Any, queue: str, message_id: str = "") -> Message:
    """Build a Message from a hash (a dict, or the flat list a script
    returns) stored under ``message_id`` (else under the ``id`` field that
    the claim script adds)."""
    pairs = (
        zip(raw[::2], raw[1::2], strict=False) if isinstance(raw, list) else raw.items()
    )
    data = _texts(list(pairs))
    moments = {name: moment(data.get(name, "")) for name in _DATETIMES}
    try:
        state = State(data.get("state", ""))
    except ValueError:
        state = State.QUEUED
    options = unpack_options(data.get("options", ""))
    unreadable = [name for name in ("eta", "enqueued_at") if moments[name] is None]
    unreadable += [name for name in _COUNTS if not _is_int(data.get(name))]
    return Message(
        damaged=_damage(unreadable),
        id=message_id or data.get("id", ""),
        command=data.get("command", ""),
        queue=queue,
        payload=data.get("payload", ""),
        signature=data.get("signature", ""),
        serializer=data.get("serializer") or "json",
        eta=moments["eta"] or _EPOCH,
        enqueued_at=moments["enqueued_at"] or _EPOCH,
        priority=integer(data.get("priority")),
        attempts=integer(data.get("attempts")),
        max_attempts=integer(data.get("max_attempts"), 1),
        options={} if options is None else options,
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
        progress=data.get("progress", ""),
        deadline=moments["deadline"],
    )


def _texts(pairs: list[tuple[Any, Any]]) -> dict[str, str]:
    """The fields of a hash as text, as :func:`text` gives them."""
    try:  # what a client returns: bytes, names in ASCII
        return {k.decode(): v.decode("utf-8", "replace") for k, v in pairs}
    except (AttributeError, UnicodeDecodeError):
        return {text(k): text(v) for k, v in pairs}


def moment(value: str) -> datetime | None:
    """The moment stored as ``value``, or None if it holds none."""
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


def integer(text: str | None, default: int = 0) -> int:
    """The integer stored as ``text``, or ``default`` if it holds none."""
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _attempt_errors(text: str) -> list[dict[str, Any]]:
    """The stored attempt errors; those that are not JSON objects are left out.

    The reclaim (a Lua program, which cannot format dates) writes the
    moments of a lost attempt as stamps: they are read as ISO 8601, like
    the moments of every other entry.
    """
    try:
        errors = json.loads(text) if text else []
    except ValueError:
        return []
    if not isinstance(errors, list):  # also Lua's empty table, {}
        return []
    entries = [error for error in errors if isinstance(error, dict)]
    for entry in entries:
        for name in ("started_at", "at"):
            if isinstance(entry.get(name), str) and _STAMP.fullmatch(entry[name]):
                entry[name] = datetime.fromtimestamp(
                    float(entry[name]), UTC
                ).isoformat()
    return entries
