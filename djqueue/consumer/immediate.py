"""Immediate mode (``QUEUE_IMMEDIATE``): run a message in the caller's process.

The consumer's side runs the message (:mod:`.execution`) and announces its
outcome (:mod:`.outcomes`), as a worker would, but in the caller's thread
and without a backend. The caller's side never imports this:
:mod:`djqueue.commands.enqueue` reaches it through the runner the app
installs when it is ready (:mod:`djqueue.apps`).
"""

from __future__ import annotations

from django.utils import timezone

from .. import signals
from ..envelope.message import Message
from ..states import State
from .execution import execute
from .outcomes import announce, record_attempt_error


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
