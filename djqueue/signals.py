"""Signals sent as messages move, for integrations (metrics, tracing, alerts).

The sender is the command's name. Every signal has a ``message`` argument,
the :class:`~djqueue.message.Message` concerned. Receivers run in the
process that sends: the caller for ``message_enqueued``, the worker thread
for the others; an exception in a receiver is logged and ignored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.dispatch import Signal

if TYPE_CHECKING:
    from .message import Message

logger = logging.getLogger("djqueue.signals")

#: A message was written to its queue (after the commit, when deferred).
message_enqueued = Signal()
#: A worker is about to run the message's command.
message_started = Signal()
#: The command returned; ``result`` is its return value.
message_finished = Signal()
#: The message failed for good; ``error`` and ``traceback`` say why.
message_failed = Signal()
#: The run failed and the message will run again at ``eta``; ``error`` says why.
message_retried = Signal()


def send(signal: Signal, message: Message, **kwargs: Any) -> None:
    """Send ``signal`` for ``message``, logging receivers' exceptions."""
    if not signal.receivers:
        return
    for receiver, response in signal.send_robust(
        sender=message.command, message=message, **kwargs
    ):
        if isinstance(response, Exception):
            logger.error(
                "Receiver %r of a djqueue signal raised %r",
                receiver,
                response,
                exc_info=response,
            )
