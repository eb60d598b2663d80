"""An outbox of enqueued messages to assert on, like ``mail.outbox``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import signals
from ..consumer.execution import decode_call
from ..envelope.message import Message


class EnqueuedMessage:
    """One message as it was enqueued; ``message`` is the
    :class:`~djqueue.envelope.message.Message` itself."""

    def __init__(self, message: Message) -> None:
        self.message = message

    @property
    def command(self) -> str:
        return self.message.command

    @property
    def queue(self) -> str:
        return self.message.queue

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def eta(self) -> Any:
        return self.message.eta

    @property
    def unique_key(self) -> str:
        return self.message.unique_key

    def call(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The call's positional and keyword arguments, decoded as a worker
        would (model instances are loaded from the database again)."""
        _, args, kwargs = decode_call(self.message)
        return tuple(args), dict(kwargs)

    def __repr__(self) -> str:
        return f"<EnqueuedMessage {self.command} on {self.queue!r} ({self.id})>"


class Outbox(list[EnqueuedMessage]):
    """The messages enqueued while a capture was open, in enqueue order."""

    def commands(self) -> list[str]:
        """The command names, in enqueue order."""
        return [entry.command for entry in self]


@contextmanager
def capture_enqueued() -> Iterator[Outbox]:
    """Collect every message enqueued in this process while the block runs
    (a message is counted when it is written: a deduplicated ``unique_key``
    call is not, a write deferred to commit counts at commit)."""
    outbox = Outbox()

    def collect(sender: Any, message: Message, **kwargs: Any) -> None:
        outbox.append(EnqueuedMessage(message))

    signals.message_enqueued.connect(collect, weak=False)
    try:
        yield outbox
    finally:
        signals.message_enqueued.disconnect(collect)
