"""Recording and logging what became of a run.

A worker stores each outcome in its queue (ack, retry later, or fail) and
logs it. Storing is retried with backoff while the message's lease would
still hold; past that the lease expires and the message runs again, which
keeps delivery at-least-once without ever dropping an outcome silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar, cast

from django.utils import timezone

from .. import signals
from ..backends.base import BaseQueue
from ..envelope.message import Message, attempt_error, with_attempt_error
from ..envelope.options import run_timeout
from ..states import State
from .execution import Outcome

logger = logging.getLogger("djqueue.consumer")
T = TypeVar("T")


class Backoff:
    """Capped exponential delays: ``first``, twice that, … up to ``cap``."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, cap
        self.current = first

    def next(self) -> float:
        delay = self.current
        self.current = min(self.current * 2, self.cap)
        return delay

    def reset(self) -> None:
        self.current = self.first


def store_outcome(
    queue: BaseQueue, message: Message, outcome: Outcome, now: datetime | None = None
) -> bool:
    """Store one outcome; return False if the message's lease was lost.

    A failed attempt's error joins the message's ``attempt_errors``, which
    the backend stores with the retry or the failure.
    """
    now = now or timezone.now()
    if outcome.state == State.DONE:
        ttl = message.options.get("result_ttl", 0)
        return queue.ack(message, outcome.result, ttl, now=now)
    record_attempt_error(message, outcome, now)
    if outcome.state == State.SCHEDULED:
        # A retry's outcome always says when (see execution.after_error).
        eta = cast(datetime, outcome.eta)
        return queue.retry_later(
            message, eta, outcome.error, outcome.traceback, now=now
        )
    return queue.fail(message, outcome.error, outcome.traceback, now=now)


def record_attempt_error(message: Message, outcome: Outcome, now: datetime) -> None:
    """Add the attempt that ended with ``outcome`` (a retry or a failure),
    with its worker and start, to ``message.attempt_errors`` (again for the
    same run replaces it)."""
    entry = attempt_error(
        message.attempts,
        now,
        outcome.exception,
        outcome.error,
        outcome.traceback,
        worker=message.worker,
        started_at=message.started_at,
        outcome="retried" if outcome.state == State.SCHEDULED else "failed",
    )
    message.attempt_errors = with_attempt_error(message.attempt_errors, entry)


def record_outcome(
    queue: BaseQueue,
    message: Message,
    outcome: Outcome,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    on_error: Callable[[str, Exception], None] | None = None,
    on_stored: Callable[[float], None] = lambda started: None,
    now: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Store an outcome, retrying with backoff until ``deadline`` (on
    ``clock``, waiting with ``sleep``); ``now`` says when it is stored.
    ``on_error(what, exc)`` reports each failed try (by default a warning,
    with the traceback on the first); ``on_stored(started)`` says that a
    try made at ``started`` was answered. Return whether it was stored
    (False if the lease was lost or every try failed)."""

    tried: list[Exception] = []

    def warn(what: str, exc: Exception) -> None:
        logger.warning("Cannot %s; retrying", what, exc_info=not tried)
        tried.append(exc)

    answered, kept = keep_trying(
        lambda: store_outcome(queue, message, outcome, now()),
        lambda attempt: f"record the outcome of message {message.id} (try {attempt})",
        deadline,
        clock,
        on_error or warn,
        on_stored,
        sleep=sleep,
    )
    if not answered:
        logger.error(
            "Gave up recording the outcome of message %s; it will run "
            "again when its lease expires",
            message.id,
        )
        return False
    if not kept:
        warn_lease_lost(message)
    return bool(kept)


def keep_trying(
    store: Callable[[], T],
    what: Callable[[int], str],
    deadline: float,
    clock: Callable[[], float],
    on_error: Callable[[str, Exception], None],
    on_stored: Callable[[float], None],
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, T | None]:
    """Call ``store`` until the backend answers, with backoff (0.1 s,
    doubling up to 2 s), as long as the next try would begin before
    ``deadline`` (on ``clock``) and ``stop()`` is false.

    ``on_error(what(attempt), exc)`` reports each failed try, attempts
    counted from 1; ``on_stored(started)`` says when the try that was
    answered began; ``sleep`` waits between tries. Return
    ``(True, what store returned)``, or ``(False, None)`` once it gives up.
    """
    backoff = Backoff(0.1, 2.0)
    attempt = 0
    while True:
        attempt += 1
        started = clock()
        try:
            value = store()
        except Exception as exc:
            on_error(what(attempt), exc)
            if stop() or clock() + backoff.current > deadline:
                return False, None
            sleep(backoff.next())
            continue
        on_stored(started)
        return True, value


def warn_lease_lost(message: Message) -> None:
    """Log that a run's outcome was refused because its lease was lost."""
    logger.warning(
        "Message %s (%s) lost its lease before its outcome was recorded; "
        "it was or will be run again",
        message.id,
        message.command,
    )


def announce(message: Message, outcome: Outcome) -> None:
    """Send the signal that matches an outcome."""
    if outcome.state == State.DONE:
        signals.send(signals.message_finished, message, result=outcome.value)
    elif outcome.state == State.SCHEDULED:
        signals.send(
            signals.message_retried, message, error=outcome.error, eta=outcome.eta
        )
    else:
        signals.send(
            signals.message_failed,
            message,
            error=outcome.error,
            traceback=outcome.traceback,
            reclaimed=False,
        )


def log_fields(message: Message) -> dict[str, object]:
    """Fields for structured log handlers (``record.message_id`` and so on)."""
    return {
        "message_id": message.id,
        "command": message.command,
        "attempt": message.attempts,
        "queue": message.queue,
    }


def outcome_fields(message: Message, outcome: Outcome) -> dict[str, object]:
    """The :func:`log_fields` of a run, with its ``outcome`` (the state)."""
    return {**log_fields(message), "outcome": str(outcome.state)}


def log_outcome(
    message: Message, outcome: Outcome, elapsed: float, timeouts_enforced: bool = False
) -> None:
    """Log one run: done at INFO, a retry at WARNING, a failure at ERROR,
    with the :func:`log_fields` and the ``outcome`` (its state)."""
    timeout = run_timeout(message)
    enforced = timeouts_enforced or outcome.timeout_enforced
    if timeout and elapsed > timeout and not enforced:
        logger.warning(
            "Message %s (%s) ran %.1fs, past its timeout of %ss; threads "
            "cannot be interrupted, so the timeout is only reported",
            message.id,
            message.command,
            elapsed,
            timeout,
            extra=outcome_fields(message, outcome),
        )
    if outcome.state == State.DONE:
        if not logger.isEnabledFor(logging.INFO):
            return
        logger.info(
            "Done %s (%s) attempt %d in %.1f ms",
            message.id,
            message.command,
            message.attempts,
            elapsed * 1000,
            extra=outcome_fields(message, outcome),
        )
    elif outcome.state == State.SCHEDULED:
        logger.warning(
            "Retrying %s (%s) at %s after attempt %d: %s",
            message.id,
            message.command,
            cast(datetime, outcome.eta).isoformat(),
            message.attempts,
            outcome.error,
            extra=outcome_fields(message, outcome),
        )
    else:
        logger.error(
            "Failed %s (%s) attempt %d: %s",
            message.id,
            message.command,
            message.attempts,
            outcome.error,
            extra=outcome_fields(message, outcome),
        )
