"""The message envelope that backends store.

A backend stores and returns :class:`Message` objects; it never imports user
code and never decodes ``payload``: that is the serializer's job, in the
consumer, after the signature has been verified.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from datetime import datetime
from typing import Any

from .exceptions import InvalidOption
from .states import State

#: Options in seconds stay within a century, so every moment computed from
#: them (result expiry, retry eta) is one a datetime can hold.
MAX_SECONDS = 100 * 365 * 24 * 3600
#: Retries stay far below what the attempt counters of every backend hold.
MAX_RETRIES = 10_000

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
    #: While the message is pending, no other message holds this key.
    unique_key: str = ""
    #: What of the stored form could not be read, set by the backend that
    #: read it (empty when all of it could); such a message fails unrun.
    damaged: str = ""

    def __repr__(self) -> str:
        return (
            f"<Message {self.id} {self.command} queue={self.queue!r} "
            f"state={self.state} attempts={self.attempts}>"
        )


def check_count(name: str, value: Any, maximum: int = MAX_RETRIES) -> None:
    """Raise ``InvalidOption`` unless ``value`` is an integer from 0 to
    ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(name, f"{name} must be an integer, not {value!r}.")
    if not 0 <= value <= maximum:
        raise InvalidOption(
            name, f"{name} must be at least 0 and at most {maximum}, not {value}."
        )


def check_seconds(name: str, value: Any, positive: bool = False) -> None:
    """Raise ``InvalidOption`` unless ``value`` is a finite number of seconds
    from 0 (above 0 if ``positive``) to ``MAX_SECONDS``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOption(name, f"{name} must be a number of seconds, not {value!r}.")
    low = value > 0 if positive else value >= 0
    if not (math.isfinite(value) and low and value <= MAX_SECONDS):
        least = "above 0" if positive else "at least 0"
        raise InvalidOption(
            name,
            f"{name} must be a number of seconds {least} and at most "
            f"{MAX_SECONDS} (a century), not {value!r}.",
        )


def check_retry_delay(value: Any) -> None:
    """Raise ``InvalidOption`` unless ``value`` is the stored form of a retry
    delay: seconds, a non-empty list of them, or an exponential backoff."""
    if isinstance(value, dict):
        if set(value) != {"first", "cap", "jitter"} or not isinstance(
            value["jitter"], bool
        ):
            raise InvalidOption(
                "retry_delay",
                "retry_delay must hold first, cap and jitter (a boolean), "
                f"not {value!r}.",
            )
        check_seconds("retry_delay", value["first"], positive=True)
        check_seconds("retry_delay", value["cap"], positive=True)
        if value["first"] > value["cap"]:
            raise InvalidOption("retry_delay", "retry_delay must have first <= cap.")
        return
    for seconds in value if isinstance(value, list) and value else [value]:
        check_seconds("retry_delay", seconds)


def check_options(options: Any) -> None:
    """Raise ``InvalidOption`` naming the first of a stored message's options
    that a consumer cannot use; keys no consumer knows are left alone."""
    if not isinstance(options, dict):
        raise InvalidOption("options", f"options must be an object, not {options!r}.")
    if "retries" in options:
        check_count("retries", options["retries"])
    if "result_ttl" in options:
        check_seconds("result_ttl", options["result_ttl"])
    if options.get("timeout") is not None:
        check_seconds("timeout", options["timeout"], positive=True)
    if "retry_delay" in options:
        check_retry_delay(options["retry_delay"])
    retry_on = options.get("retry_on")
    if retry_on is not None and not (
        isinstance(retry_on, list) and all(isinstance(name, str) for name in retry_on)
    ):
        raise InvalidOption(
            "retry_on", f"retry_on must be a list of class names, not {retry_on!r}."
        )
    if "django_task" in options and not (
        isinstance(options["django_task"], str) and options["django_task"]
    ):
        raise InvalidOption(
            "django_task",
            f"django_task must name a TASKS backend, not {options['django_task']!r}.",
        )


def run_timeout(message: Message) -> float | None:
    """The message's timeout in seconds, or None for none or an unusable one
    (the run then fails on its options before anything runs)."""
    options = message.options
    timeout = options.get("timeout") if isinstance(options, dict) else None
    try:
        check_seconds("timeout", timeout, positive=True)
    except InvalidOption:
        return None
    return timeout
