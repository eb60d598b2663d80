"""The handle a caller gets back from enqueueing a message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from asgiref.sync import sync_to_async
from django.db import connections

from ..envelope.codec import decode_result
from ..envelope.message import Message
from ..envelope.progress import Progress, decode_progress
from ..exceptions import (
    CommandFailed,
    MessageExpired,
    MessageNotFound,
    ResultExpired,
    ResultNotReady,
    ResultTimeout,
)
from ..signals import message_cancelled, send
from ..states import FINISHED_STATES, State

if TYPE_CHECKING:
    from ..backends.base import BaseQueue

R = TypeVar("R")
_MISSING = object()


class Result(Generic[R]):
    """A message's state and result, fetched from its queue on demand.

    ``status`` and ``ready()`` ask the backend each time; ``get()`` waits for
    the message to finish and returns the command's return value, or raises
    ``CommandFailed``; ``value`` returns it without waiting, and raises
    rather than confuse a value of ``None`` with no value yet. The result is
    available while it is retained (the command's ``result_ttl``).
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
        """Whether the message finished (done, failed, cancelled or expired)."""
        return self.status in FINISHED_STATES

    @property
    def error(self) -> str:
        message = self.message
        return "" if message is None else message.error

    @property
    def progress(self) -> Progress | None:
        """What the command last reported of its latest attempt with
        ``set_progress()`` and ``set_meta()``, or ``None`` if it reported
        nothing (or the message is no longer stored). Fetched again while
        the message is not finished, as :attr:`status` is; kept with the
        result once it is; cleared when the message waits for another
        attempt."""
        message = self.message
        return None if message is None else decode_progress(message.progress)

    @property
    def meta(self) -> dict[str, Any]:
        """The metadata of :attr:`progress`: ``{}`` for none."""
        progress = self.progress
        return {} if progress is None else progress.meta

    async def aprogress(self) -> Progress | None:
        """:attr:`progress` from async code: fetched again, as
        :meth:`arefresh` fetches."""
        await self.arefresh()
        message = self._message
        return None if message is None else decode_progress(message.progress)

    @classmethod
    def from_id(cls, message_id: str) -> Result[Any]:
        """Return the handle of ``message_id`` on whichever configured queue
        holds it, or raise ``MessageNotFound`` naming the queues searched.

        Each queue's backend finds it its own way (:meth:`locate`): one
        query for every ``DatabaseQueue`` on a table, one look-up per queue
        otherwise.
        """
        from ..backends.handler import get_queue, queue_names

        names = queue_names()
        for name in names:
            found = get_queue(name).locate(message_id)
            if found is not None and found in names:
                return cls(message_id, found)
        raise MessageNotFound(
            f"No configured queue holds message {message_id} "
            f"(searched {', '.join(names)})."
        )

    @property
    def value(self) -> R:
        """The command's return value, once the message is done.

        Raise ``ResultNotReady`` while it is queued, scheduled or running,
        ``CommandFailed`` if it failed, was cancelled or expired, and
        ``ResultExpired`` (or ``MessageNotFound`` for an id that was never
        enqueued through this handle) once it is no longer stored. Never
        waits: :meth:`get` does.
        """
        message = self.message
        if message is not None and message.state not in FINISHED_STATES:
            raise ResultNotReady(self.id, message.state.label)
        return self.get(timeout=0)

    @property
    def succeeded(self) -> bool:
        """Whether the message is done: its command returned (``value``)."""
        return self.status == State.DONE

    @property
    def failed(self) -> bool:
        """Whether the message failed for good, was cancelled or expired."""
        return self.status in (State.FAILED, State.CANCELLED, State.EXPIRED)

    @property
    def result(self) -> R | None:
        """The return value if the message is done, else ``None``
        (also when the command returned ``None``: :attr:`value` tells the
        two apart)."""
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
        if cancelled and message_cancelled.receivers:
            message = self.message
            if message is not None:
                send(message_cancelled, message)
        return cancelled

    def get(self, timeout: float | None = None) -> R:
        """Wait up to ``timeout`` seconds (``None``: for ever) for the result.

        Raise ``ResultTimeout`` if it is not finished in time,
        ``MessageExpired`` (a ``CommandFailed``) if it expired unrun,
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
        if message.state == State.EXPIRED:
            raise MessageExpired(self.id, message.error or message.state.label)
        if message.state in FINISHED_STATES:
            raise CommandFailed(self.id, message.error or message.state.label)
        raise ResultTimeout(f"Message {self.id} is still {message.state}.")

    async def arefresh(self) -> None:
        """:meth:`refresh` from async code (thread-sensitive
        ``sync_to_async``, as Django's async ORM)."""
        await sync_to_async(self.refresh)()

    async def aget(self, timeout: float | None = None) -> R:
        """:meth:`get` from async code: the same wait, value and errors.

        The wait runs in a thread of the event loop's executor rather than
        the thread-sensitive one, which it would hold for the whole wait
        from every other ORM call; a database connection it opens there is
        closed when it ends.
        """
        return await sync_to_async(self._get_and_close, thread_sensitive=False)(timeout)

    def _get_and_close(self, timeout: float | None) -> R:
        try:
            return self.get(timeout)
        finally:
            connections.close_all()

    # Django's template engine calls the callables it meets: a template
    # renders nothing for these rather than cancel the message or wait.
    cancel.alters_data = True  # type: ignore[attr-defined]
    get.alters_data = True  # type: ignore[attr-defined]
    aget.alters_data = True  # type: ignore[attr-defined]

    def _decode(self, message: Message) -> R:
        if self._value is _MISSING:
            self._value = decode_result(message)
        # The serializer gives back what the command returned: an R.
        return cast(R, self._value)

    def _backend(self) -> BaseQueue:
        from ..backends.handler import get_queue

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

    @property
    def value(self) -> R:
        return self.get()

    def get(self, timeout: float | None = None) -> R:
        message = self._message
        if message.state == State.DONE:
            return self._decode(message)
        raise CommandFailed(self.id, message.error)

    cancel.alters_data = True  # type: ignore[attr-defined]
    get.alters_data = True  # type: ignore[attr-defined]
