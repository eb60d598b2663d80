"""What a running command can learn about the message it runs for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .envelope.message import Message

# A context variable rather than a thread-local: an ``async def`` command
# runs on an event loop in another thread, and its ``sync_to_async`` calls in
# yet another, and asgiref carries context variables to both.
_current: ContextVar[Message | None] = ContextVar("djqueue_message", default=None)


def current_message() -> Message | None:
    """Return the message whose command runs in this thread (or, for an
    ``async def`` command, in this task and the sync code it calls), if any.

    Its ``id`` is stable across attempts and ``attempts`` counts this one.
    """
    return _current.get()


@contextmanager
def running(message: Message) -> Iterator[Message]:
    """Make ``message`` the current message for the duration of the block."""
    token = _current.set(message)
    try:
        yield message
    finally:
        _current.reset(token)
