"""Run one message: verify, decode, call the command, and say what happened.

Nothing here touches a backend: :func:`execute` returns an :class:`Outcome`
that the consumer applies (ack, retry or fail). Every way a message can go
wrong before or while it runs becomes an outcome with a reason; nothing
raises out of :func:`execute`.

Integrations may trace every run by adding a :data:`RunTracer` each
(:func:`add_run_tracer`); without one a run does no tracing work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import traceback as tb
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .. import signals
from ..commands.registry import registry
from ..context import running
from ..envelope.codec import (
    decode_call_arguments,
    decode_result,
    encode_result,
    message_serializer,
    verify_message,
)
from ..envelope.message import Message
from ..envelope.options import check_options, run_timeout
from ..envelope.retries import Retry, delay_for, matches
from ..exceptions import (
    CommandNotFound,
    DecodeError,
    InvalidOption,
    SerializationError,
    UnstorableResult,
    class_path,
    describe,
)
from ..hooks import Hooks
from ..states import State
from .coroutines import run_coroutine

if TYPE_CHECKING:
    from ..commands.command import QueueCommand
    from ..envelope.progress import ProgressStore

DECODE_RETRY_DELAY = timedelta(seconds=5)


@dataclasses.dataclass(slots=True)
class Outcome:
    """What became of one run: ``done``, ``failed`` or a retry at ``eta``."""

    state: State
    result: str | None = None
    error: str = ""
    traceback: str = ""
    eta: datetime | None = None
    #: The command's return value, for the ``message_finished`` signal.
    value: Any = None
    #: The dotted path of the class of the exception that ended the attempt.
    exception: str = ""
    #: Whether the run's timeout was enforced (an ``async def`` command's).
    timeout_enforced: bool = False


def decode_call(
    message: Message,
) -> tuple[QueueCommand[..., Any], list[Any], dict[str, Any]]:
    """Return ``(command, args, kwargs)``; raise ``DecodeError``,
    ``InvalidOption`` or ``CommandNotFound`` with a reason fit for the
    failed message.

    The signature is verified first, then the options are checked, and only
    then is the payload decoded (which may load model instances).
    """
    verify_message(message)
    if message.damaged:
        raise DecodeError(f"the stored message is damaged: {message.damaged}")
    check_options(message.options)
    args, kwargs = message_serializer(message).loads_call(message.payload)
    command = _command(message)
    try:
        command.check_call(args, kwargs)
    except TypeError as exc:
        raise DecodeError(
            f"the stored arguments do not match the signature of {command.name}: {exc}"
        ) from None
    return command, args, kwargs


def _command(message: Message) -> QueueCommand[..., Any]:
    """The registered command, or the django.tasks Task a message runs.

    Messages the django.tasks backend enqueued (their signed options say so)
    run a Task the project defines, found by the resolver that the app
    registers for them, never a registered command; others run only
    registered commands.
    """
    if "django_task" not in message.options:
        return registry.get(message.command)
    return registry.resolve("django_task", message)


#: Runs ``run`` (one message's execution) inside a trace of ``message`` and
#: returns its outcome; it must not raise.
RunTracer = Callable[[Message, Callable[[], Outcome]], Outcome]

#: The run tracers installed, the first added outermost.
run_tracers: Hooks[RunTracer] = Hooks()
add_run_tracer = run_tracers.add
remove_run_tracer = run_tracers.remove


def execute(
    message: Message,
    now: Callable[[], datetime] = timezone.now,
    store: ProgressStore | None = None,
) -> Outcome:
    """Run ``message`` and return its outcome; never raises ``Exception``.

    An ``async def`` command's coroutine runs to completion here, within
    the message's timeout (see :mod:`.coroutines`). The progress the
    command reports is written through ``store`` (None: kept on the
    message only), the last value before this returns.
    """
    if not run_tracers:
        return _execute(message, now, store)
    run: Callable[[], Outcome] = functools.partial(_execute, message, now, store)
    for tracer in reversed(run_tracers):
        run = functools.partial(tracer, message, run)
    return run()


def _execute(
    message: Message, now: Callable[[], datetime], store: ProgressStore | None
) -> Outcome:
    try:
        command, args, kwargs = decode_call(message)
    except (DecodeError, InvalidOption, CommandNotFound) as exc:
        return Outcome(
            State.FAILED, error=f"cannot run: {exc}", exception=class_path(exc)
        )
    except Exception as exc:
        # Not the message's fault (a database error loading an instance, say):
        # try again later while deliveries are left.
        error = f"cannot decode: {describe(exc)}"
        state, eta = State.FAILED, None
        if message.attempts < message.max_attempts:
            state, eta = State.SCHEDULED, now() + DECODE_RETRY_DELAY
        return Outcome(
            state,
            error=error,
            traceback=tb.format_exc(),
            eta=eta,
            exception=class_path(exc),
        )
    signals.send(signals.message_started, message)
    awaited = False
    try:
        with running(message, store):
            value = command.func(*args, **kwargs)
            if inspect.iscoroutine(value):
                awaited = True
                value = run_coroutine(value, run_timeout(message))
    except UnstorableResult as exc:
        return unstorable(exc.__cause__ or exc)
    except (Exception, SystemExit, KeyboardInterrupt, asyncio.CancelledError) as exc:
        # SystemExit and KeyboardInterrupt raised by a command, and a
        # coroutine cancelled by something else than its timeout, end that
        # run, not the worker thread.
        outcome = after_error(message, exc, now)
        outcome.timeout_enforced = awaited
        return outcome
    try:
        result = encode_result(message, value)
    except SerializationError as exc:
        return unstorable(exc)
    return Outcome(State.DONE, result=result, value=value, timeout_enforced=awaited)


def unstorable(exc: BaseException) -> Outcome:
    """Fail at once a run whose result cannot be stored, for ``exc``: a
    retry would repeat the command's side effects for the same error."""
    return Outcome(
        State.FAILED,
        error=f"the command ran but its result cannot be stored: {describe(exc)}",
        traceback="".join(tb.format_exception(exc)),
        exception=class_path(exc),
    )


def after_error(
    message: Message, exc: BaseException, now: Callable[[], datetime]
) -> Outcome:
    """Retry the message if its policy allows, else fail it for good."""
    error, trace = describe(exc), "".join(tb.format_exception(exc))
    options = message.options
    if isinstance(exc, Retry):
        wanted, allowed = True, message.attempts < message.max_attempts
        if not allowed:
            used = message.max_attempts
            error = f"{error} (asked to retry, but all {used} attempts are used)"
    else:
        retries = options.get("retries", message.max_attempts - 1)
        wanted = matches(exc, options.get("retry_on"))
        allowed = (
            message.attempts <= retries and message.attempts < message.max_attempts
        )
    if not (wanted and allowed):
        return Outcome(
            State.FAILED, error=error, traceback=trace, exception=class_path(exc)
        )
    delay = getattr(exc, "delay", None)
    if delay is None:
        delay = delay_for(options.get("retry_delay", 0), message.attempts)
    return Outcome(
        State.SCHEDULED,
        error=error,
        traceback=trace,
        eta=now() + timedelta(seconds=delay),
        exception=class_path(exc),
    )


# What both sides need lives in djqueue.envelope.codec and djqueue.exceptions; these
# names stay importable from here.
__all__ = [
    "Outcome",
    "class_path",
    "decode_call",
    "decode_call_arguments",
    "decode_result",
    "describe",
    "encode_result",
    "execute",
    "verify_message",
]
