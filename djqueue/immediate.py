"""Immediate mode (``QUEUE_IMMEDIATE``): run a message in the caller's process.

This joins the two sides, so it sits above both: the caller's side builds
the message (:mod:`djqueue.enqueue`), the consumer's side runs it
(:mod:`djqueue.execution`) and announces its outcome
(:mod:`djqueue.outcomes`). :mod:`djqueue.enqueue` reaches it through the
runner the app installs when it is ready.
"""

from __future__ import annotations

from django.utils import timezone

from . import signals
from .execution import execute
from .message import Message
from .outcomes import announce, record_attempt_error
from .states import State


def run_inline(message: Message) -> Message:
    """Run a message in this process without a backend, once, and return it
    with its outcome (state, result, error and traceback); it is never
    stored."""
    # One inline attempt; the options stay as signed.
    message.attempts = message.max_attempts = 1
    message.state = State.RUNNING
    signals.send(signals.message_enqueued, message)
    outcome = execute(message)
    if outcome.state != State.DONE:
        record_attempt_error(message, outcome, timezone.now())
    announce(message, outcome)
    message.state = outcome.state
    message.result = outcome.result
    message.error = outcome.error
    message.traceback = outcome.traceback
    return message
