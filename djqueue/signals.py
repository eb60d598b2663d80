"""Signals sent as messages move, for integrations (metrics, tracing, alerts).

The sender is the command's name. Every signal has a ``message`` argument,
the :class:`~djqueue.envelope.message.Message` concerned. Receivers run in the
process that sends: the caller for ``message_enqueued`` and
``message_cancelled``, the consumer's main thread for ``message_expired``
and for ``message_failed`` after a reclaim, the worker thread for the
others; an exception in a
receiver is logged and ignored. ``consumer_started`` and ``consumer_stopped``
concern a consumer, not a message: their sender is the consumer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.dispatch import Signal

if TYPE_CHECKING:
    from .envelope.message import Message

logger = logging.getLogger("djqueue.signals")

#: A message was written to its queue (after the commit, when deferred).
message_enqueued = Signal()
#: A worker is about to run the message's command.
message_started = Signal()
#: The command returned; ``result`` is its return value.
message_finished = Signal()
#: The message failed for good; ``error`` and ``traceback`` say why.
#: ``reclaimed`` is True when its lease expired on its last attempt (its
#: worker was lost) and the consumer's reclaim failed it; ``traceback`` is
#: then empty.
message_failed = Signal()
#: The run failed and the message will run again at ``eta``; ``error`` says why.
message_retried = Signal()
#: The message was cancelled by :meth:`Result.cancel` or by the admin's
#: cancel button on the message's page (not by a bulk cancel of a list,
#: which changes messages by the thousand without reading them).
message_cancelled = Signal()
#: The message was not started by its deadline (the ``expires`` option) and
#: will never run: it is ``expired``, and ``error`` says since when. Sent
#: once, by the consumer whose housekeeping found it expired.
message_expired = Signal()
#: A ``run_queue`` consumer is about to take messages; ``worker_id`` and
#: ``queues`` (their names) say which. The sender is the consumer.
consumer_started = Signal()
#: A consumer stopped taking messages and finished or released its runs;
#: ``worker_id``, ``queues`` and ``processed`` (messages it ran).
consumer_stopped = Signal()


def send(signal: Signal, message: Message, **kwargs: Any) -> None:
    """Send ``signal`` for ``message``, logging receivers' exceptions."""
    send_from(signal, message.command, message=message, **kwargs)


def send_from(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` from ``sender``, logging receivers' exceptions."""
    if not signal.receivers:
        return
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "Receiver %r of a djqueue signal raised %r",
                receiver,
                response,
                exc_info=response,
            )
