"""The handle a caller gets back from enqueueing a message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .codec import decode_result
from .exceptions import CommandFailed, MessageNotFound, ResultExpired, ResultTimeout
from .message import Message
from .states import FINISHED_STATES, State

if TYPE_CHECKING:
    from .backends.base import BaseQueue

R = TypeVar("R")
_MISSING = object()


class Result(Generic[R]):
    """A message's state and result, fetched from its queue on demand.

    ``status`` and ``ready()`` ask the backend each time; ``get()`` waits for
    the message to finish and returns the command's return value, or raises
    ``CommandFailed``. The result is available while it is retained (the
    command's ``result_ttl``).
    """

    def __init__(
        self,
        message_id: str,
        queue: str,
        message: Message | None = None,
        enqueued: bool = False,
    ):
        self.id = message_id
        self.queue = queue
        #: Whether this handle came from an enqueue, so the message existed.
        self.enqueued = enqueued
        self._message = message
        self._value: Any = _MISSING

    @property
    def message(self) -> Message | None:
        """The stored message as last fetched, or ``None`` if it is gone."""
        if self._message is None or self._message.state not in FINISHED_STATES:
            self.refresh()
        return self._message

    def refresh(self) -> None:
        """Fetch the message again from its queue."""
        self._message = self._backend().get(self.id)

    @property
    def status(self) -> State | None:
        """The message's state, or ``None`` once it is no longer stored."""
        message = self.message
        return None if message is None else message.state

    def ready(self) -> bool:
        """Whether the message finished (done, failed or cancelled)."""
        return self.status in FINISHED_STATES

    @property
    def error(self) -> str:
        message = self.message
        return "" if message is None else message.error

    @property
    def result(self) -> R | None:
        """The return value if the message is done, else ``None``."""
        message = self.message
        if message is None or message.state != State.DONE:
            return None
        return self._decode(message)

    def cancel(self) -> bool:
        """Cancel the message if it is queued or scheduled; it will not run.

        Return False if it could not be cancelled: it is running (a running
        command is never interrupted), finished, or no longer stored.
        """
        cancelled = self._backend().cancel(self.id)
        self._message = None
        return cancelled

    def get(self, timeout: float | None = None) -> R:
        """Wait up to ``timeout`` seconds (``None``: for ever) for the result.

        Raise ``ResultTimeout`` if it is not finished in time,
        ``CommandFailed`` if it failed or was cancelled, and
        ``MessageNotFound`` if it is not stored (or no longer: its result
        expired).
        """
        message = self._message
        if message is None or message.state not in FINISHED_STATES:
            message = self._message = self._backend().wait(self.id, timeout)
        if message is None and self.enqueued:
            raise ResultExpired(
                f"Message {self.id} is no longer stored: it finished and its "
                "result was not kept or expired (see result_ttl), or it was deleted."
            )
        if message is None:
            raise MessageNotFound(
                f"Queue {self.queue!r} holds no message {self.id}: it never "
                "existed here, or it is no longer stored."
            )
        if message.state == State.DONE:
            return self._decode(message)
        if message.state in FINISHED_STATES:
            raise CommandFailed(self.id, message.error or message.state.label)
        raise ResultTimeout(f"Message {self.id} is still {message.state}.")

    # Django's template engine calls the callables it meets: a template
    # renders nothing for these rather than cancel the message or wait.
    cancel.alters_data = True  # type: ignore[attr-defined]
    get.alters_data = True  # type: ignore[attr-defined]

    def _decode(self, message: Message) -> R:
        if self._value is _MISSING:
            self._value = decode_result(message)
        # The serializer gives back what the command returned: an R.
        return cast(R, self._value)

    def _backend(self) -> BaseQueue:
        from .queues import get_queue

        return get_queue(self.queue)

    def __repr__(self) -> str:
        return f"<Result {self.id} queue={self.queue!r}>"


class ImmediateResult(Result[R]):
    """The handle of a message run inline (``QUEUE_IMMEDIATE``); never stored."""

    # Always the message as it ran: it is given, and never fetched.
    _message: Message

    def refresh(self) -> None:
        pass

    def cancel(self) -> bool:
        return False

    def get(self, timeout: float | None = None) -> R:
        message = self._message
        if message.state == State.DONE:
            return self._decode(message)
        raise CommandFailed(self.id, message.error)

    cancel.alters_data = True  # type: ignore[attr-defined]
    get.alters_data = True  # type: ignore[attr-defined]
