"""How a worker runs a message: in its own thread, or in a child process.

:class:`ThreadRunner` calls the command in the worker thread. A thread
cannot be interrupted, so a sync command's timeout is only reported (an
``async def`` command's coroutine is cancelled at its timeout, in either
runner: see :mod:`.coroutines`). :class:`ProcessRunner`
gives each worker thread a child process (started with ``spawn``, so it
shares no locks or connections with the consumer). A run past its timeout
is killed and counted as a failed attempt, a child that dies takes only its
message with it, and a child is replaced after ``max_messages`` runs or once
it uses more than ``max_memory`` MiB.
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..commands.registry import registry
from ..envelope.message import Message
from ..envelope.options import run_timeout
from ..exceptions import CommandNotFound, CommandTimedOut, WorkerLost
from ..states import State
from .coroutines import cancel_run
from .execution import Outcome, after_error, class_path, execute
from .progress import store_progress

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnProcess

    #: The pipe to a child: messages go out, (outcome, retire) pairs come back.
    Pipe = Connection[Any, Any]

logger = logging.getLogger("djqueue.consumer")

#: Seconds a new child process may take to import Django and the project.
STARTUP_TIMEOUT = 120

#: Seconds past its timeout that the child of an ``async def`` command has
#: to cancel the coroutine itself and answer, before it is killed.
CANCEL_GRACE = 1.0


class Runner(Protocol):
    enforces_timeouts: bool

    def run(self, message: Message, now: Callable[[], datetime]) -> Outcome: ...
    def kill(self) -> None: ...
    def close(self) -> None: ...


class ThreadRunner:
    """Run the command in the calling thread, the one that creates it."""

    #: A thread cannot be interrupted: timeouts of sync commands are only
    #: reported.
    enforces_timeouts = False
    #: The worker thread that created this runner and runs its messages.
    _thread: int | None = None

    def __init__(self) -> None:
        self._thread = threading.get_ident()

    def run(self, message: Message, now: Callable[[], datetime]) -> Outcome:
        return execute(message, now=now, store=store_progress)

    def kill(self) -> None:
        """Cancel the coroutine of an ``async def`` command being run; safe
        from any thread. A thread cannot be killed: the consumer's exit ends
        a sync command's."""
        if self._thread is not None:
            cancel_run(self._thread, "the consumer stopped")

    def close(self) -> None:
        pass


class ProcessRunner:
    """Run the command in a child process owned by this runner."""

    enforces_timeouts = True

    def __init__(self, max_messages: int | None = None, max_memory: int | None = None):
        self.max_messages = max_messages
        self.max_memory = max_memory
        self._process: SpawnProcess | None = None
        self._connection: Pipe | None = None

    def run(self, message: Message, now: Callable[[], datetime]) -> Outcome:
        process, connection = self._process, self._connection
        if process is None or connection is None:
            process, connection = self._start()
        connection.send(message)
        timeout = run_timeout(message)
        wait = timeout
        if timeout is not None and is_async_command(message):
            wait = timeout + CANCEL_GRACE
        if not connection.poll(wait):
            process.kill()
            process.join(timeout=5)
            self._forget()
            return after_error(
                message, CommandTimedOut(f"timed out after {timeout}s"), now
            )
        try:
            outcome: Outcome
            outcome, retire = connection.recv()
        except (EOFError, OSError):
            return self._lost(process, message, now)
        if retire:
            process.join(timeout=10)
            self._forget()
        return outcome

    def _lost(
        self, process: SpawnProcess, message: Message, now: Callable[[], datetime]
    ) -> Outcome:
        process.join(timeout=5)
        code = process.exitcode
        self._forget()
        error = f"worker lost: its process died (exit code {code}) while running it"
        lost = class_path(WorkerLost())
        if message.attempts < message.max_attempts:
            return Outcome(State.SCHEDULED, error=error, eta=now(), exception=lost)
        return Outcome(State.FAILED, error=error, exception=lost)

    def _start(self) -> tuple[SpawnProcess, Pipe]:
        """Start the child and return it with its pipe, once Django is set
        up in it."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = self._process = context.Process(
            target=child_main,
            args=(child, self.max_messages, self.max_memory),
            name="djqueue-process-worker",
            daemon=True,
        )
        process.start()
        child.close()
        self._connection = parent
        # Wait for Django to be set up in the child, so that its start-up
        # never counts against the first message's timeout.
        if not parent.poll(STARTUP_TIMEOUT) or parent.recv() != "ready":
            self.kill()
            raise RuntimeError(f"A process worker did not start in {STARTUP_TIMEOUT}s.")
        return process, parent

    def _forget(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def kill(self) -> None:
        """Kill the child at once; safe from any thread. The thread that owns
        this runner sees the child gone and cleans up after it."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def close(self) -> None:
        """Stop the child: it finishes nothing more and exits."""
        if self._process is not None and self._connection is not None:
            self._connection.close()
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
            self._process = self._connection = None


def is_async_command(message: Message) -> bool:
    """Whether the message runs a registered ``async def`` command (a
    django.tasks message, or one of an unknown command, runs none)."""
    if "django_task" in message.options:
        return False
    try:
        command = registry.get(message.command)
    except CommandNotFound:
        return False
    return inspect.iscoroutinefunction(command.func)


def child_main(
    connection: Pipe, max_messages: int | None, max_memory: int | None
) -> None:
    """The loop of a child process: receive, run, send back, until retired."""
    # The consumer decides when children stop; a Ctrl-C or a SIGTERM sent to
    # the whole process group must not cut a run short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    import django

    django.setup()
    from django.utils import timezone

    from ..db import close_old_connections

    connection.send("ready")
    runs = 0
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        close_old_connections()
        outcome = execute(message, now=timezone.now, store=store_progress)
        close_old_connections()
        outcome.value = None  # the return value may not pickle; the result does
        runs += 1
        retire = bool(max_messages and runs >= max_messages) or _over(max_memory)
        connection.send((outcome, retire))
        if retire:
            return


def _over(max_memory: int | None) -> bool:
    if not max_memory:
        return False
    return resident_mib() > max_memory


def resident_mib() -> float:
    """This process's resident memory in MiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


__all__ = [
    "CommandTimedOut",
    "ProcessRunner",
    "Runner",
    "ThreadRunner",
    "resident_mib",
]
