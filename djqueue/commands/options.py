"""A command's options: how its messages are queued and run, checked when
they are given (to ``@queue_command``, ``using()`` or ``enqueue_*``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypedDict

from ..conf import DEFAULT_QUEUE
from ..envelope.options import MAX_RETRIES
from ..envelope.retries import MAX_SECONDS, RetryDelay, encode_exceptions, encode_policy
from ..exceptions import InvalidOption

#: Priorities run from MIN_PRIORITY to MAX_PRIORITY, higher first (the range
#: of Django's tasks framework).
MIN_PRIORITY, MAX_PRIORITY = -100, 100


@dataclasses.dataclass(frozen=True, slots=True)
class CommandOptions:
    """How a command's messages are queued and run; each can be set per call.

    ``result_ttl`` of ``None`` means the ``QUEUE_RESULT_TTL`` setting.
    ``retries`` failed runs are tried again after ``retry_delay`` (seconds,
    a list of intervals whose last repeats, or an ``ExponentialBackoff``),
    only for exceptions of the ``retry_on`` classes when it is given.
    ``timeout`` is reported when exceeded. ``lock_key`` (a string, or a
    callable that takes the call's arguments and returns one) keeps runs
    that share the key from overlapping. ``expires`` (seconds or a
    ``timedelta`` after the message becomes ready, or a moment) drops a
    message whose first attempt has not started by then: it ends
    ``expired`` and never runs.
    """

    queue: str = DEFAULT_QUEUE
    priority: int = 0
    result_ttl: float | None = None
    retries: int = 0
    retry_delay: RetryDelay = 0
    retry_on: tuple[type[BaseException], ...] | None = None
    timeout: float | None = None
    eta: datetime | None = None
    delay: float | None = None
    unique_key: str | None = None
    unique: bool = False
    lock_key: str | Callable[..., str] | None = None
    expires: float | timedelta | datetime | None = None

    def __post_init__(self) -> None:
        _check_int("priority", self.priority)
        if not MIN_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise InvalidOption(
                f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}, "
                f"not {self.priority}."
            )
        _check_int("retries", self.retries, minimum=0)
        if self.retries > MAX_RETRIES:
            raise InvalidOption(
                f"retries must be at most {MAX_RETRIES}, not {self.retries}."
            )
        encode_policy(self.retry_delay)
        encode_exceptions(self.retry_on)
        if self.result_ttl is not None:
            _check_seconds("result_ttl", self.result_ttl)
        if self.timeout is not None:
            _check_seconds("timeout", self.timeout, positive=True)
        if not isinstance(self.queue, str) or not self.queue:
            raise InvalidOption(
                f"queue must be a non-empty string, not {self.queue!r}."
            )
        if self.eta is not None and not isinstance(self.eta, datetime):
            raise InvalidOption(
                f"eta must be a datetime, not {type(self.eta).__name__}."
            )
        if self.unique_key is not None and (
            not isinstance(self.unique_key, str) or not 0 < len(self.unique_key) <= 200
        ):
            raise InvalidOption("unique_key must be a string of 1 to 200 characters.")
        if self.lock_key is not None and not callable(self.lock_key):
            check_lock_key(self.lock_key)
        if self.expires is not None:
            _check_expires(self)
        if self.delay is not None:
            _check_seconds("delay", self.delay)
            if self.eta is not None:
                raise InvalidOption("Give eta or delay, not both.")


class CommandArguments(TypedDict, total=False):
    """The keyword arguments that name and configure a command, besides a
    schedule's (``@periodic_command`` takes them): ``name`` and every field
    of :class:`CommandOptions`."""

    name: str | None
    queue: str
    priority: int
    result_ttl: float | None
    retries: int
    retry_delay: RetryDelay
    retry_on: tuple[type[BaseException], ...] | None
    timeout: float | None
    eta: datetime | None
    delay: timedelta | float | None
    unique_key: str | None
    unique: bool
    lock_key: str | Callable[..., str] | None
    expires: float | timedelta | datetime | None


def check_lock_key(key: Any) -> str:
    """Return ``key`` if it can be a lock key, or raise ``InvalidOption``."""
    if not isinstance(key, str) or not 0 < len(key) <= 200:
        raise InvalidOption(
            f"lock_key must be a string of 1 to 200 characters, not {key!r}."
        )
    return key


def _check_expires(options: CommandOptions) -> None:
    """Check ``expires``, a timedelta made seconds; a moment is checked
    against the eta when a call is enqueued (see ``building``)."""
    expires = options.expires
    if isinstance(expires, timedelta):
        expires = expires.total_seconds()
        # The options are frozen; this is their own normalization.
        object.__setattr__(options, "expires", expires)
    if isinstance(expires, datetime):
        return
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        raise InvalidOption(
            "expires must be a number of seconds, a timedelta or a datetime, "
            f"not {expires!r}."
        )
    _check_seconds("expires", expires, positive=True)


def _check_int(name: str, value: Any, minimum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(f"{name} must be an integer, not {value!r}.")
    if minimum is not None and value < minimum:
        raise InvalidOption(f"{name} must be at least {minimum}, not {value}.")


def _check_seconds(name: str, value: Any, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOption(f"{name} must be a number of seconds, not {value!r}.")
    low_enough = value <= MAX_SECONDS
    # NaN compares false with everything, so it fails both tests.
    if not ((value > 0 if positive else value >= 0) and low_enough):
        lowest = "more than 0" if positive else "at least 0"
        raise InvalidOption(
            f"{name} must be a number of seconds {lowest} and at most "
            f"{MAX_SECONDS} (100 years), not {value!r}."
        )
