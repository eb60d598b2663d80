"""``@queue_command``: turn a function into a command that runs on a queue."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, ParamSpec, Protocol, Self, TypeVar, overload

from asgiref.sync import sync_to_async

from ..envelope.retries import RetryDelay
from .enqueue import enqueue, enqueue_many
from .options import CommandOptions as CommandOptions
from .registry import registry
from .result import Result

P = ParamSpec("P")
R = TypeVar("R")


class _CallShape:
    """What a call must look like to bind to a plain signature."""

    def __init__(self, signature: inspect.Signature) -> None:
        self.signature = signature
        parameters = list(signature.parameters.values())
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        self.plain = all(p.kind is kind for p in parameters)
        self.names = [p.name for p in parameters]
        self.positions = {name: i for i, name in enumerate(self.names)}
        self.required = sum(p.default is inspect.Parameter.empty for p in parameters)

    def fits(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
        given = len(args)
        if not self.plain or given > len(self.names):
            return False
        if not kwargs:
            return given >= self.required
        for name in kwargs:
            position = self.positions.get(name)
            if position is None or position < given:
                return False
        return all(i < given or self.names[i] in kwargs for i in range(self.required))


class QueueCommand(Generic[P, R]):
    """A registered function; calling it enqueues a message.

    ``command.enqueue(*args, **kwargs)`` (or, the same,
    ``command(*args, **kwargs)``) enqueues and returns a :class:`Result` at
    once (``await command.aenqueue(*args, **kwargs)`` from async code);
    ``command.call_local(*args, **kwargs)`` runs the function here and
    now; ``command.using(priority=..., eta=..., ...)`` returns the same
    command with options changed for the calls made through it.

    A template that meets a command reads its attributes and never calls
    it, nor runs it: ``{{ command.name }}`` shows the name.
    """

    # Django's template engine calls the callables it meets; calling a
    # command enqueues a message.
    do_not_call_in_templates = True

    def __init__(self, func: Callable[P, R], name: str, options: CommandOptions):
        functools.update_wrapper(self, func)
        self.func = func
        self.name = name
        self.options = options
        self.signature = inspect.signature(func)
        self._parameter_names = tuple(self.signature.parameters)
        self._call_shape: _CallShape | None = None
        # (options, result TTL, the options its messages carry, their signed
        # text): enqueue's.
        self._message_options: (
            tuple[CommandOptions, float | None, dict[str, Any], str] | None
        ) = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Result[R]:
        return enqueue(self, args, kwargs)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Result[R]:
        """Enqueue a message that calls the function with these arguments
        and return its :class:`Result` at once: the explicit spelling of
        calling the command."""
        return enqueue(self, args, kwargs)

    def check_call(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise ``TypeError`` unless ``func(*args, **kwargs)`` would bind.

        Calls of a plain signature (parameters that are all positional or
        keyword) are checked without ``Signature.bind()``, which takes
        longer than the rest of building a message; anything else, and any
        call that looks wrong, goes to ``bind()`` for its error.
        """
        shape = self._call_shape
        if shape is None or shape.signature is not self.signature:
            shape = self._call_shape = _CallShape(self.signature)
        if not shape.fits(args, kwargs):
            self.signature.bind(*args, **kwargs)

    def enqueue_at(self, eta: datetime, *args: P.args, **kwargs: P.kwargs) -> Result[R]:
        """Enqueue a message that becomes ready at ``eta`` (naive datetimes
        follow ``USE_TZ``; a moment in the past means as soon as possible)."""
        return self.using(eta=eta)(*args, **kwargs)

    def enqueue_in(
        self, delay: timedelta | float, *args: P.args, **kwargs: P.kwargs
    ) -> Result[R]:
        """Enqueue a message that becomes ready ``delay`` from now."""
        return self.using(delay=delay)(*args, **kwargs)

    def call_local(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function in this process and return what it returns (for
        an ``async def`` command, its coroutine: ``await`` it)."""
        return self.func(*args, **kwargs)

    async def aenqueue(self, *args: P.args, **kwargs: P.kwargs) -> Result[R]:
        """Enqueue as a call does, from async code (an async view, say).

        The enqueue runs through ``sync_to_async`` (thread-sensitive, as
        Django's async ORM runs), so any backend is safe to use. An async
        view runs outside ``transaction.atomic()``: the message is written
        at once, not on a commit.
        """
        return await sync_to_async(enqueue)(self, args, kwargs)

    # Templates render nothing for these rather than call them.
    call_local.alters_data = True  # type: ignore[attr-defined]
    aenqueue.alters_data = True  # type: ignore[attr-defined]
    enqueue.alters_data = True  # type: ignore[attr-defined]
    enqueue_at.alters_data = True  # type: ignore[attr-defined]
    enqueue_in.alters_data = True  # type: ignore[attr-defined]

    def using(
        self,
        *,
        queue: str | None = None,
        priority: int | None = None,
        result_ttl: float | None = None,
        retries: int | None = None,
        retry_delay: RetryDelay | None = None,
        retry_on: tuple[type[BaseException], ...] | None = None,
        timeout: float | None = None,
        eta: datetime | None = None,
        delay: timedelta | float | None = None,
        unique_key: str | None = None,
        unique: bool | None = None,
        lock_key: str | Callable[..., str] | None = None,
        expires: timedelta | float | datetime | None = None,
    ) -> Self:
        """Return this command with the given options for the next calls.

        ``delay`` (seconds or a timedelta) makes each call's message ready
        that long after the call; ``eta`` makes it ready at a moment.
        ``unique_key`` (or ``unique=True``, a key derived from the command and
        its arguments) makes a call return the handle of the pending message
        that holds the same key instead of enqueueing another.
        ``lock_key`` (a string, or a callable given the call's arguments that
        returns one) makes the message wait, unclaimed, while another message
        of its queue with the same key runs. ``expires`` (seconds or a
        timedelta counted from when the message becomes ready, or a moment
        after that) makes a message not started by then end ``expired``,
        unrun.
        """
        changes: dict[str, Any] = {
            key: value
            for key, value in {
                "queue": queue,
                "priority": priority,
                "result_ttl": result_ttl,
                "retries": retries,
                "retry_delay": retry_delay,
                "retry_on": retry_on,
                "timeout": timeout,
                "eta": eta,
                "unique_key": unique_key,
                "unique": unique,
                "lock_key": lock_key,
                "expires": expires,
            }.items()
            if value is not None
        }
        if delay is not None:
            if isinstance(delay, timedelta):
                delay = delay.total_seconds()
            changes.update(delay=delay, eta=None)
        elif eta is not None:
            changes["delay"] = None
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.options = dataclasses.replace(self.options, **changes)
        return clone

    def map(self, calls: Iterable[object]) -> list[Result[R]]:
        """Enqueue one message per item, writing them in bulk.

        Each item is a tuple of positional arguments, a dict of keyword
        arguments, or a single argument (so any object: the type checker
        cannot hold the items to the function's signature; each is checked
        against it before anything is written).
        """
        return enqueue_many(self, calls)

    map.alters_data = True  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<QueueCommand {self.name}>"


class AsyncQueueCommand(QueueCommand[P, R]):
    """A registered ``async def`` function: the same command, typed by what
    its coroutine returns, so that ``result.get()`` is that value.

    ``@queue_command`` makes one of every coroutine function; only
    :meth:`call_local` differs, returning the coroutine to ``await``.
    """

    # The function returns a coroutine of R, which QueueCommand[P, R] would
    # call R; the override says so to the type checker.
    def call_local(  # type: ignore[override]
        self, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        """Return the coroutine of the function called with these
        arguments, to ``await`` here and now."""
        coroutine: Coroutine[Any, Any, R] = self.func(*args, **kwargs)  # type: ignore[assignment]
        return coroutine

    call_local.alters_data = True  # type: ignore[attr-defined]


class CommandDecorator(Protocol):
    """What ``@queue_command(...)`` with options returns."""

    @overload
    def __call__(
        self, func: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncQueueCommand[P, R]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> QueueCommand[P, R]: ...


@overload
def queue_command(
    func: Callable[P, Coroutine[Any, Any, R]], /
) -> AsyncQueueCommand[P, R]: ...
@overload
def queue_command(func: Callable[P, R], /) -> QueueCommand[P, R]: ...
@overload
def queue_command(
    *,
    name: str | None = ...,
    queue: str = ...,
    priority: int = ...,
    result_ttl: float | None = ...,
    retries: int = ...,
    retry_delay: RetryDelay = ...,
    retry_on: tuple[type[BaseException], ...] | None = ...,
    timeout: float | None = ...,
    eta: datetime | None = ...,
    delay: timedelta | float | None = ...,
    unique_key: str | None = ...,
    unique: bool = ...,
    lock_key: str | Callable[..., str] | None = ...,
    expires: timedelta | float | datetime | None = ...,
) -> CommandDecorator: ...
def queue_command(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    **options: Any,
) -> QueueCommand[..., Any] | Callable[[Callable[..., Any]], QueueCommand[..., Any]]:
    """Register a function as a command that runs on a queue.

    Use it bare (``@queue_command``) or with options
    (``@queue_command(queue="emails", priority=5, retries=3)``), every option
    of :class:`CommandOptions`. The command's name is ``module.qualname``
    unless ``name`` is given; it must be unique.
    """

    if isinstance(options.get("delay"), timedelta):
        options["delay"] = options["delay"].total_seconds()
    command_options = CommandOptions(**options)

    def decorate(function: Callable[..., Any]) -> QueueCommand[..., Any]:
        if not callable(function):
            raise TypeError("@queue_command decorates functions.")
        command_name = name or f"{function.__module__}.{function.__qualname__}"
        if "<locals>" in command_name and name is None:
            raise TypeError(
                f"{command_name} is defined inside a function, so a worker "
                "cannot find it by name: define it at module level or pass "
                "name=... and make sure it is registered in every process."
            )
        kind = (
            AsyncQueueCommand if inspect.iscoroutinefunction(function) else QueueCommand
        )
        command = kind(function, command_name, command_options)
        registry.register(command)
        return command

    if func is not None:
        return decorate(func)
    return decorate
