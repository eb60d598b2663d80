"""Turn a command call into a stored message (or an inline run).

The messages are built, and every call checked, by :mod:`.building`.

Immediate mode runs the message here, through the runner that the app
installs when it is ready (:func:`install_inline_runner`): running a command
is the consumer's side, which the caller's side never imports. Tracing works
the same way: integrations add a :class:`SendTracer` each
(:func:`add_send_tracer`), and without one enqueueing does no tracing work
at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from .. import signals
from ..backends.handler import get_queue
from ..conf import settings
from ..envelope.message import Message
from ..hooks import Hooks
from .building import Args, Kwargs, build_message, build_messages
from .result import ImmediateResult, Result

if TYPE_CHECKING:
    from .command import QueueCommand

R = TypeVar("R")


def enqueue(command: QueueCommand[..., R], args: Args, kwargs: Kwargs) -> Result[R]:
    """Store one call of ``command`` and return its handle."""
    if not send_tracers:
        return _enqueue_one(build_message(command, args, kwargs))
    with _Traced(command.options.queue, command.name) as sending:
        message = build_message(command, args, kwargs, sending.options)
        sending.built([message])
        return _enqueue_one(message)


def store_call(
    command: QueueCommand[..., Any],
    args: Args,
    kwargs: Kwargs,
    extra_options: dict[str, Any] | None = None,
) -> Message:
    """Build, trace and write one call, in immediate mode too, and return the
    stored message: the django.tasks backend's enqueue, which keeps its own
    results. ``extra_options`` are signed into the message."""
    if not send_tracers:
        message = build_message(command, args, kwargs, extra_options)
        _write(message.queue, [message])
        return message
    with _Traced(command.options.queue, command.name) as sending:
        carried = {**(sending.options or {}), **(extra_options or {})}
        message = build_message(command, args, kwargs, carried or None)
        sending.built([message])
        _write(message.queue, [message])
        return message


def _enqueue_one(message: Message) -> Result[Any]:
    if settings.QUEUE_IMMEDIATE:
        return ImmediateResult(message.id, message.queue, run_inline(message))
    (held_by,) = _write(message.queue, [message])
    return Result(held_by, message.queue, enqueued=True)


def enqueue_many(
    command: QueueCommand[..., R], calls: Iterable[object]
) -> list[Result[R]]:
    """Store one message per call in bulk and return their handles."""
    arguments = (_call_arguments(call) for call in calls)
    if not send_tracers:
        return _enqueue_all(command.options.queue, build_messages(command, arguments))
    with _Traced(command.options.queue, command.name) as sending:
        messages = build_messages(command, arguments, sending.options)
        sending.built(messages)
        return _enqueue_all(command.options.queue, messages)


def _enqueue_all(queue_name: str, messages: list[Message]) -> list[Result[Any]]:
    if settings.QUEUE_IMMEDIATE:
        return [ImmediateResult(m.id, m.queue, run_inline(m)) for m in messages]
    ids = _write(queue_name, messages) if messages else []
    return [Result(held_by, queue_name, enqueued=True) for held_by in ids]


def _call_arguments(call: object) -> tuple[Args, Kwargs]:
    if isinstance(call, tuple):
        return call, {}
    if isinstance(call, dict):
        return (), call
    return (call,), {}


def _write(queue_name: str, messages: list[Message]) -> list[str]:
    """Write now, or when the open transaction commits for backends that
    cannot take part in it (so a rolled-back transaction enqueues nothing).

    Return the ids of the messages that hold each call: for a unique key
    that a pending message already holds, that message's id (a deferred
    write cannot know it yet and returns the new id).
    """
    queue = get_queue(queue_name)
    ids = [message.id for message in messages]

    def write() -> None:
        plain = [m for m in messages if not m.unique_key]
        if len(plain) == 1:
            queue.write(plain[0])
        elif plain:
            queue.write_many(plain)
        for index, message in enumerate(messages):
            if message.unique_key:
                ids[index] = queue.write_unique(message)
                if ids[index] != message.id:
                    continue
            signals.send(signals.message_enqueued, message)

    deferrable = not queue.supports_transactions and queue.defer_on_commit
    if deferrable and transaction.get_connection().in_atomic_block:
        # Marked so that djqueue.testing can write it before the commit.
        write.djqueue_deferred_write = True  # type: ignore[attr-defined]
        transaction.on_commit(write)
    else:
        write()
    return ids


class Sending(Protocol):
    """One traced enqueue, as a :class:`SendTracer` sees it."""

    #: Options to sign into every message of the call (the trace context it
    #: carries to the consumer), or None for none.
    options: dict[str, Any] | None

    def built(self, messages: list[Message]) -> None:
        """Note the messages about to be stored."""


class SendTracer(Protocol):
    """What traces enqueueing (an integration such as OpenTelemetry's)."""

    def sending(self, queue: str, command: str) -> AbstractContextManager[Sending]:
        """Return the context that one enqueue of ``command`` runs in."""


#: The send tracers installed, the first added outermost.
send_tracers: Hooks[SendTracer] = Hooks()
add_send_tracer = send_tracers.add
remove_send_tracer = send_tracers.remove


class _Traced:
    """One enqueue in the context of every send tracer, the first
    outermost; the options of all are signed into the messages."""

    def __init__(self, queue: str, command: str) -> None:
        self.queue, self.command = queue, command
        self._stack = ExitStack()
        self._sendings: list[Sending] = []
        self.options: dict[str, Any] | None = None

    def __enter__(self) -> _Traced:
        with ExitStack() as stack:
            for tracer in send_tracers:
                sending = stack.enter_context(tracer.sending(self.queue, self.command))
                self._sendings.append(sending)
                if sending.options:
                    self.options = {**(self.options or {}), **sending.options}
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.__exit__(*exc_info)

    def built(self, messages: list[Message]) -> None:
        for sending in self._sendings:
            sending.built(messages)


#: Runs a message in this process and returns it finished (immediate mode).
_inline_runner: Callable[[Message], Message] | None = None


def install_inline_runner(runner: Callable[[Message], Message]) -> None:
    """Make immediate mode run messages with ``runner`` (the app's ready()
    installs :func:`djqueue.consumer.immediate.run_inline`)."""
    global _inline_runner
    _inline_runner = runner


def run_inline(message: Message) -> Message:
    """Run a message in this process without a backend (immediate mode)."""
    if _inline_runner is None:
        raise ImproperlyConfigured(
            "Immediate mode (QUEUE_IMMEDIATE) runs commands through djqueue's "
            "app: add 'djqueue' to INSTALLED_APPS and call django.setup()."
        )
    return _inline_runner(message)
