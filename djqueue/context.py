"""What a running command can learn about the message it runs for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .message import Message

_local = threading.local()


def current_message() -> Message | None:
    """Return the message whose command runs in this thread, if any.

    Its ``id`` is stable across attempts and ``attempts`` counts this one.
    """
    return getattr(_local, "message", None)


@contextmanager
def running(message: Message) -> Iterator[Message]:
    """Make ``message`` the current message for the duration of the block."""
    previous = current_message()
    _local.message = message
    try:
        yield message
    finally:
        _local.message = previous
