"""The options a stored message carries, checked before it runs.

A message's options decide how it runs (retries, retry policy, result TTL,
timeout, the django.tasks path). They are signed with the payload, but a
consumer still checks their types and ranges before running anything: a
message signed by another version, or by anything holding the key, must
fail with a reason that names the option, not run and then fail to record
its outcome. Keys no consumer knows are left alone, so a message of a newer
version still runs on an older consumer.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidOption
from .message import Message
from .retries import MAX_SECONDS

#: Retries stay far below what the attempt counters of every backend hold.
MAX_RETRIES = 10_000


def check_options(options: Any) -> None:
    """Raise ``InvalidOption`` naming the first of a stored message's options
    that a consumer cannot use."""
    if not isinstance(options, dict):
        raise InvalidOption(f"options must be an object, not {options!r}.")
    if "retries" in options:
        _check_retries(options["retries"])
    if "result_ttl" in options:
        _check_seconds("result_ttl", options["result_ttl"])
    if options.get("timeout") is not None:
        _check_seconds("timeout", options["timeout"], positive=True)
    if "retry_delay" in options:
        _check_retry_delay(options["retry_delay"])
    retry_on = options.get("retry_on")
    if retry_on is not None and not (
        isinstance(retry_on, list) and all(isinstance(name, str) for name in retry_on)
    ):
        raise InvalidOption(
            f"retry_on must be a list of class names, not {retry_on!r}."
        )
    alias = options.get("django_task", "")
    if "django_task" in options and not (isinstance(alias, str) and alias):
        raise InvalidOption(f"django_task must name a TASKS backend, not {alias!r}.")


def run_timeout(message: Message) -> float | None:
    """The message's timeout in seconds, or None for none or an unusable one
    (the run then fails on its options before anything of it runs)."""
    options = message.options
    timeout = options.get("timeout") if isinstance(options, dict) else None
    try:
        _check_seconds("timeout", timeout, positive=True)
    except InvalidOption:
        return None
    return timeout


def _check_retries(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(f"retries must be an integer, not {value!r}.")
    if not 0 <= value <= MAX_RETRIES:
        raise InvalidOption(
            f"retries must be at least 0 and at most {MAX_RETRIES}, not {value}."
        )


def _check_seconds(name: str, value: Any, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOption(f"{name} must be a number of seconds, not {value!r}.")
    # NaN compares false with everything, so it fails both tests.
    if not ((value > 0 if positive else value >= 0) and value <= MAX_SECONDS):
        lowest = "more than 0" if positive else "at least 0"
        raise InvalidOption(
            f"{name} must be a number of seconds {lowest} and at most "
            f"{MAX_SECONDS} (100 years), not {value!r}."
        )


def _check_retry_delay(value: Any) -> None:
    """The stored form of a retry delay: seconds, a non-empty list of them,
    or an exponential backoff's ``first``, ``cap`` and ``jitter``."""
    if isinstance(value, dict):
        if set(value) != {"first", "cap", "jitter"} or not isinstance(
            value["jitter"], bool
        ):
            raise InvalidOption(
                "retry_delay must hold first, cap and jitter (a boolean), "
                f"not {value!r}."
            )
        _check_seconds("retry_delay", value["first"], positive=True)
        _check_seconds("retry_delay", value["cap"], positive=True)
        if value["first"] > value["cap"]:
            raise InvalidOption("retry_delay must have first <= cap.")
        return
    for seconds in value if isinstance(value, list) and value else [value]:
        _check_seconds("retry_delay", seconds)
