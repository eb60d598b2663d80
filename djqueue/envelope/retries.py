"""Retry policies: when a failed run is tried again.

A command's ``retry_delay`` is a number of seconds, a list of intervals (the
last one repeats), or an :class:`ExponentialBackoff`. Policies travel inside
each message as JSON, so a per-call policy reaches the worker that runs it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from ..exceptions import DjqueueError, InvalidOption

#: The longest delay, TTL or timeout an option takes: 100 years of seconds,
#: so a moment that far from now is still a datetime every backend stores.
MAX_SECONDS = 100 * 365 * 24 * 3600


class Retry(DjqueueError):
    """Raise from a command to have it run again, after ``delay`` seconds
    (default: the command's retry policy). It counts as an attempt and is
    honoured while the message has deliveries left; ``retry_on`` does not
    apply to it."""

    def __init__(self, delay: float | timedelta | None = None, reason: str = ""):
        if isinstance(delay, timedelta):
            delay = delay.total_seconds()
        if delay is not None and not _seconds(delay):
            raise InvalidOption(
                f"A retry delay must be from 0 to {MAX_SECONDS} seconds, not {delay!r}."
            )
        self.delay = delay
        super().__init__(reason or "the command asked to be retried")


@dataclasses.dataclass(frozen=True)
class ExponentialBackoff:
    """Delays of ``first``, twice that, four times… capped at ``cap`` seconds.

    With ``jitter`` each delay is drawn between half and all of its value, so
    messages that failed together do not all come back at the same moment.
    """

    first: float = 1.0
    cap: float = 3600.0
    jitter: bool = True

    def __post_init__(self) -> None:
        seconds = _seconds(self.first) and _seconds(self.cap)
        if not (seconds and 0 < self.first <= self.cap):
            raise InvalidOption(
                f"ExponentialBackoff needs 0 < first <= cap <= {MAX_SECONDS} "
                f"seconds, not first={self.first!r}, cap={self.cap!r}."
            )


RetryDelay = float | Sequence[float] | ExponentialBackoff


def encode_policy(policy: RetryDelay) -> Any:
    """Return the JSON form of a retry delay, or raise ``InvalidOption``."""
    if isinstance(policy, ExponentialBackoff):
        return {"first": policy.first, "cap": policy.cap, "jitter": policy.jitter}
    if _seconds(policy):
        return policy
    if isinstance(policy, (list, tuple)) and policy and all(map(_seconds, policy)):
        return list(policy)
    raise InvalidOption(
        f"retry_delay must be a number of seconds from 0 to {MAX_SECONDS}, a "
        "non-empty list of them, "
        f"or an ExponentialBackoff, not {policy!r}."
    )


def _seconds(value: Any) -> bool:
    """Whether ``value`` is a number of seconds from 0 to MAX_SECONDS (NaN,
    infinities and larger numbers would overflow a datetime)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and 0 <= value <= MAX_SECONDS
    )


def delay_for(
    policy: Any, attempt: int, draw: Callable[[], float] = random.random
) -> float:
    """Return the seconds to wait after failed attempt number ``attempt``."""
    if isinstance(policy, dict):
        delay: float = min(policy["cap"], policy["first"] * 2 ** (attempt - 1))
        return delay * (0.5 + draw() / 2) if policy.get("jitter") else delay
    if isinstance(policy, list):
        interval: float = policy[min(attempt, len(policy)) - 1]
        return interval
    return policy or 0


def encode_exceptions(
    types: Sequence[type[BaseException]] | type[BaseException] | None,
) -> list[str] | None:
    """Return exception classes as dotted names, for a message's options."""
    if types is None:
        return None
    if isinstance(types, type):
        types = (types,)
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise InvalidOption(f"retry_on takes exception classes, not {kind!r}.")
    return [f"{kind.__module__}.{kind.__qualname__}" for kind in types]


def matches(exc: BaseException, names: list[str] | None) -> bool:
    """Whether ``exc`` is an instance of one of the named classes.

    Names are compared along the exception's class hierarchy; nothing is
    imported, so a stored name can never make a worker import a module.
    """
    if names is None:
        return True
    lineage = {f"{kind.__module__}.{kind.__qualname__}" for kind in type(exc).__mro__}
    return not lineage.isdisjoint(names)
