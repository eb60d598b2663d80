"""Turn a command call into a stored message (or an inline run).

Immediate mode runs the message here, through the runner that the app
installs when it is ready (:func:`install_inline_runner`): running a command
is the consumer's side, which the caller's side never imports. Tracing works
the same way: integrations add a :class:`SendTracer` each
(:func:`add_send_tracer`), and without one enqueueing does no tracing work
at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from .. import signals
from ..backends.handler import get_queue
from ..conf import settings
from ..envelope.message import Message, new_message_id
from ..envelope.retries import encode_exceptions, encode_policy
from ..envelope.serializers import queue_serializer
from ..envelope.signing import canonical_options, payload_signer
from ..exceptions import InvalidOption
from ..hooks import Hooks
from .options import check_lock_key
from .result import ImmediateResult, Result

if TYPE_CHECKING:
    from ..backends.base import BaseQueue
    from ..envelope.serializers import BaseSerializer
    from .command import QueueCommand
    from .options import CommandOptions

R = TypeVar("R")
#: One call's arguments.
Args = tuple[Any, ...]
Kwargs = dict[str, Any]


def build_message(
    command: QueueCommand[..., Any],
    args: Args,
    kwargs: Kwargs,
    extra_options: dict[str, Any] | None = None,
) -> Message:
    """Return the signed message for one call, or raise at the call site.

    ``extra_options`` are added to the message's options before it is
    signed (the django.tasks backend marks its messages so).

    A call that does not match the function's signature raises ``TypeError``;
    an argument the queue's serializer cannot encode raises
    ``SerializationError`` naming it; an unknown queue raises
    ``UnknownQueue``; a ``lock_key``, ``unique=True`` or a ``unique_key``
    on a queue whose backend cannot honour it raises
    ``NotImplementedError``. Nothing is written in any of these cases.
    """
    return build_messages(command, [(args, kwargs)], extra_options)[0]


def build_messages(
    command: QueueCommand[..., Any],
    calls: Iterable[tuple[Args, Kwargs]],
    extra_options: dict[str, Any] | None = None,
) -> list[Message]:
    """Return the signed messages of ``(args, kwargs)`` calls, as
    :func:`build_message` does for each; they share one enqueue time, and
    what does not depend on the call is looked up once (after the first
    call's checks, so errors come in the order of a single call's)."""
    options, name = command.options, command.name
    queue: BaseQueue | None = None
    serializer: BaseSerializer | None = None
    now: datetime | None = None
    messages = []
    for args, kwargs in calls:
        try:
            command.check_call(args, kwargs)
        except TypeError as exc:
            raise TypeError(f"Cannot enqueue {name}: {exc}") from None
        if queue is None or serializer is None:
            queue = get_queue(options.queue)
            _check_unique(command, queue)
            serializer = queue_serializer(options.queue)
        lock_key = _lock_key(command, queue, args, kwargs)
        payload = serializer.dumps_call(args, kwargs, name, command._parameter_names)
        message_id = new_message_id()
        if now is None:
            now = timezone.now()
            eta = _eta(options, now)
            carried, canonical = _message_options(command)
            if extra_options:
                carried = {**carried, **extra_options}
                canonical = canonical_options(carried)
            sign = payload_signer(canonical)
            max_attempts = max(options.retries, settings.QUEUE_REDELIVERIES) + 1
        messages.append(
            Message(
                unique_key=_unique_key(options, name, payload),
                lock_key=lock_key,
                id=message_id,
                command=name,
                queue=options.queue,
                payload=payload,
                signature=sign(message_id, name, serializer.name, payload),
                serializer=serializer.name,
                eta=eta,
                enqueued_at=now,
                priority=options.priority,
                max_attempts=max_attempts,
                options=dict(carried),
            )
        )
    return messages


def _message_options(command: QueueCommand[..., Any]) -> tuple[dict[str, Any], str]:
    """The options that travel with the command's messages and their signed
    text, made once per set of command options and result TTL setting
    (callers copy the dict)."""
    options, result_ttl = command.options, settings.QUEUE_RESULT_TTL
    made = command._message_options
    if made is not None and made[0] is options and made[1] is result_ttl:
        return made[2], made[3]
    encoded: dict[str, Any] = {
        "retries": options.retries,
        "result_ttl": result_ttl if options.result_ttl is None else options.result_ttl,
        "retry_delay": encode_policy(options.retry_delay),
        "retry_on": encode_exceptions(options.retry_on),
        "timeout": options.timeout,
    }
    canonical = canonical_options(encoded)
    command._message_options = (options, result_ttl, encoded, canonical)
    return encoded, canonical


def _lock_key(
    command: QueueCommand[..., Any], queue: BaseQueue, args: Args, kwargs: Kwargs
) -> str:
    """The call's lock key: the option itself, or what it returns when it is
    a callable given the call's arguments."""
    key = command.options.lock_key
    if key is None:
        return ""
    if not queue.supports_lock_keys:
        raise NotImplementedError(
            f"Cannot enqueue {command.name} with a lock_key: the queue "
            f"{queue.name!r} uses {type(queue).__name__}, which does not "
            "support lock keys."
        )
    if callable(key):
        try:
            returned = key(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"Cannot enqueue {command.name}: its lock_key callable cannot "
                f"take the call's arguments: {exc}"
            ) from exc
        try:
            return check_lock_key(returned)
        except TypeError:
            raise TypeError(
                f"Cannot enqueue {command.name}: its lock_key callable returned "
                f"{returned!r}, not a string of 1 to 200 characters."
            ) from None
    return key


def _check_unique(command: QueueCommand[..., Any], queue: BaseQueue) -> None:
    """Refuse a unique command on a backend that cannot keep its key."""
    options = command.options
    if (options.unique or options.unique_key) and not queue.supports_unique:
        raise NotImplementedError(
            f"Cannot enqueue {command.name} with unique=True or a unique_key: "
            f"the queue {queue.name!r} uses {type(queue).__name__}, which does "
            "not support unique keys (its supports_unique flag is False). Use "
            "a backend that does, such as DatabaseQueue or RedisQueue, or "
            "enqueue it without unique and unique_key."
        )


def _unique_key(options: CommandOptions, name: str, payload: str) -> str:
    if options.unique_key:
        return options.unique_key
    if options.unique:
        digest = hashlib.sha256(f"{name}\x1f{payload}".encode()).hexdigest()
        return f"auto:{digest[:40]}"
    return ""


#: The moments an eta may be: those of ``datetime`` less a day at each end,
#: so that every backend can store it and every time zone can show it.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def _eta(options: CommandOptions, now: datetime) -> datetime:
    """When the message becomes ready; raise ``InvalidOption`` naming
    ``eta`` for a moment out of range (``delay`` is bounded already)."""
    if options.eta is None:
        return now + timedelta(seconds=options.delay) if options.delay else now
    try:
        eta = _normalized(options.eta)
        utc = eta.astimezone(UTC) if eta.tzinfo else eta.replace(tzinfo=UTC)
        if _EARLIEST <= utc <= _LATEST:
            return eta
    except OverflowError:
        pass
    raise InvalidOption(
        f"eta {options.eta.isoformat()} is out of range: it must be at least a "
        "day inside the years 1 to 9999, in UTC."
    )


def _normalized(moment: datetime) -> datetime:
    """Follow USE_TZ, as Django does: naive datetimes are in the current time
    zone when it is on, and aware ones are converted to it when it is off."""
    if django_settings.USE_TZ and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    if not django_settings.USE_TZ and timezone.is_aware(moment):
        return timezone.make_naive(moment)
    return moment


def enqueue(command: QueueCommand[..., R], args: Args, kwargs: Kwargs) -> Result[R]:
    """Store one call of ``command`` and return its handle."""
    if not send_tracers:
        return _enqueue_one(build_message(command, args, kwargs))
    with _Traced(command.options.queue, command.name) as sending:
        message = build_message(command, args, kwargs, sending.options)
        sending.built([message])
        return _enqueue_one(message)


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
