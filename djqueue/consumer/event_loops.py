"""Many runs at once on each worker thread: ``Consumer(async_runs=N)``,
``run_queue --async-runs N``.

Each worker thread runs an event loop of its own and starts up to N
messages on it, each in a task of its own, taking the next one the main
thread claimed as soon as a place is free: a consumer runs up to
``concurrency`` times N messages at once, and claims no more than that (plus
its prefetch).

A run of an ``async def`` command happens as in an async view under
Django's ASGI handler: in an asgiref ``ThreadSensitiveContext`` of its own,
so that its thread-sensitive calls (``sync_to_async``, Django's async ORM)
go to a thread of the run's own, never to one that every run on the loop
would share. The whole run is a thread-sensitive call of that context:
decoding (which may load model instances with the ORM), the signals, the
outcome stored, the same steps as a worker thread's
(:meth:`~djqueue.consumer.workers.Workers.carry_out`); the coroutine
itself runs on the worker's loop, where asgiref's ``async_to_sync`` hands
it from that thread (:mod:`.coroutines`), within its timeout. The run's
thread closes its database connections as the run ends, and the thread
ends with its context.

A run of a sync command takes one of the N places too, and runs in a
daemon thread of its own, so that the loop's other runs go on meanwhile:
run in the worker thread, it would stop the loop for as long as it runs,
and with it every coroutine, their timeouts and their cancellation. A
thread cannot be interrupted; a daemon one lets the process exit past the
grace period, as thread workers do.

At a stop past the grace period the consumer releases what it holds and
kills the runs: every coroutine on the loop is cancelled, and one that
starts later is cancelled as it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections

from ..backends.base import BaseQueue
from ..envelope.message import Message
from .coroutines import cancel_runs
from .runners import ThreadRunner, is_async_command

logger = logging.getLogger("djqueue.consumer")

if TYPE_CHECKING:
    import queue as queue_module

    from .workers import Workers

    Work = queue_module.SimpleQueue[tuple[BaseQueue, Message] | None]


def check_async_runs(async_runs: int, runner_factory: Callable[[], object]) -> None:
    """Raise ``ValueError`` naming the fix unless a consumer can run
    ``async_runs`` messages at once on each worker thread with runners from
    ``runner_factory``."""
    if async_runs < 1:
        raise ValueError("async_runs must be at least 1.")
    if async_runs > 1 and runner_factory is not ThreadRunner:
        raise ValueError(
            "async_runs runs messages on the worker threads' event loops, "
            "which a runner_factory (process workers) cannot do: leave out "
            "one of the two."
        )


class EventLoopWorker:
    """One worker thread's event loop and the up to ``runs`` messages on it."""

    def __init__(self, workers: Workers, runs: int) -> None:
        self.workers = workers
        self.runs = runs
        self.loop: asyncio.AbstractEventLoop | None = None
        # Its run() calls the command in the calling thread: the run's own.
        self._runner = ThreadRunner()

    def serve(self) -> None:
        """The worker thread: run messages on a loop until told to stop."""
        loop = self.loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()
            connections.close_all()

    def kill(self) -> None:
        """Cancel every coroutine running on the loop, now and from now on;
        safe from any thread. The runs of sync commands go on: a thread
        cannot be killed."""
        if self.loop is not None:
            cancel_runs(self.loop, "the consumer stopped")

    async def _serve(self) -> None:
        places = asyncio.Semaphore(self.runs)
        feed = _Feed(self.workers.work, asyncio.get_running_loop())
        running: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            places.release()

        while True:
            await places.acquire()
            item = await feed.next()
            if item is None:
                break
            if not self.workers.begin():
                places.release()
                continue
            task = asyncio.create_task(self._run(*item))
            running.add(task)
            task.add_done_callback(done)
        if running:
            await asyncio.wait(running)

    async def _run(self, queue: BaseQueue, message: Message) -> None:
        if not is_async_command(message):
            await _in_a_daemon_thread(self._carry_out, queue, message)
            return
        async with ThreadSensitiveContext():
            await sync_to_async(self._carry_out, thread_sensitive=True)(queue, message)

    def _carry_out(self, queue: BaseQueue, message: Message) -> None:
        """The run, in its own thread; the connections it opened are closed
        as it ends."""
        try:
            self.workers.carry_out(self._runner, queue, message)
        finally:
            connections.close_all()


class _Feed:
    """Hand the loop the next message of the workers' shared queue when it
    asks for one (it asks when it has a free place), from a daemon thread
    that waits on that queue while the loop goes on."""

    def __init__(self, work: Work, loop: asyncio.AbstractEventLoop) -> None:
        self._work = work
        self._loop = loop
        self._asked = threading.Semaphore(0)
        self._items: asyncio.Queue[tuple[BaseQueue, Message] | None] = asyncio.Queue()
        threading.Thread(target=self._pull, name="djqueue-feed", daemon=True).start()

    async def next(self) -> tuple[BaseQueue, Message] | None:
        """The next message and its queue, or ``None``: stop."""
        self._asked.release()
        return await self._items.get()

    def _pull(self) -> None:
        while True:
            self._asked.acquire()
            item = self._work.get()
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
            if item is None:
                return


async def _in_a_daemon_thread(
    function: Callable[[BaseQueue, Message], None], queue: BaseQueue, message: Message
) -> None:
    """Call ``function(queue, message)`` in a daemon thread of its own, in
    a copy of this context, and wait for it without blocking the loop."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            context.run(function, queue, message)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(_settle, finished)

    threading.Thread(target=target, name="djqueue-sync-run", daemon=True).start()
    await finished


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
