"""Run the coroutine of an ``async def`` command to completion, within its
timeout.

The design is Django's for an async view served under WSGI: the coroutine
runs through asgiref's ``async_to_sync``, on an event loop of its own for
the run, while the worker's thread waits for it and serves the
coroutine's thread-sensitive ``sync_to_async`` calls (Django's async ORM
makes those). So the ORM calls of an async command use the worker
thread's database connection, which the worker checks around each run (and
closes when broken or too old) as it does for a sync command; and a run
never shares a loop, nor anything bound to one, with another run.

A worker runs one message at a time, so one coroutine at a time, unless
the consumer runs many at once on each worker thread's event loop
(:mod:`.event_loops`): there each run calls this from a thread of its own,
and asgiref's ``async_to_sync`` hands the coroutine to the loop that thread
serves, so each coroutine runs there, in a task.

The timeout is enforced, in thread workers too: past it the coroutine is
cancelled (at its next ``await``) and the attempt fails with
:class:`~djqueue.exceptions.CommandTimedOut`. A consumer that stops with
runs still going once its grace period is over cancels their coroutines
(:func:`cancel_run`, or :func:`cancel_runs` for all of a loop's):
asgiref's loop thread is not a daemon, so a coroutine left waiting would
keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connections

from ..exceptions import CommandTimedOut

#: The task running each thread's coroutine, by the ident of the thread
#: that waits for it.
_runs: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}
_runs_lock = threading.Lock()
#: The loops whose runs were all cancelled: a run that starts on one later
#: is cancelled as it starts.
_cancelled_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def run_coroutine(coroutine: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
    """Run ``coroutine`` to completion and return its value, or raise what it
    raised, or :class:`CommandTimedOut` once ``timeout`` seconds are spent.

    From a thread that runs an event loop already (a call in immediate mode
    from async code), it runs in a thread of its own, with this context.
    """
    waiter = threading.get_ident()

    async def bounded() -> Any:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        with _runs_lock:
            cancelled = loop in _cancelled_loops
            if not cancelled:
                _runs[waiter] = (loop, task)
        if cancelled:
            coroutine.close()
            raise asyncio.CancelledError("the consumer stopped")
        try:
            if timeout is None:
                return await coroutine
            scope = asyncio.timeout(timeout)
            try:
                async with scope:
                    return await coroutine
            except TimeoutError as exc:
                if scope.expired():
                    raise CommandTimedOut(f"timed out after {timeout}s") from exc
                raise
        finally:
            with _runs_lock:
                _runs.pop(waiter, None)

    run = async_to_sync(bounded)
    if not _loop_running():
        return run()
    return _in_a_thread(contextvars.copy_context(), run)


def cancel_run(waiter: int, reason: str) -> None:
    """Cancel the coroutine that thread ``waiter`` waits for, if any; safe
    from any thread."""
    with _runs_lock:
        run = _runs.get(waiter)
    if run is not None:
        loop, task = run
        loop.call_soon_threadsafe(task.cancel, reason)


def cancel_runs(loop: asyncio.AbstractEventLoop, reason: str) -> None:
    """Cancel every coroutine running on ``loop``, now and from now on;
    safe from any thread."""
    with _runs_lock:
        _cancelled_loops.add(loop)
        tasks = [task for on, task in _runs.values() if on is loop]
    for task in tasks:
        try:
            loop.call_soon_threadsafe(task.cancel, reason)
        except RuntimeError:  # the loop is closed: its runs are over
            return


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _in_a_thread(context: contextvars.Context, run: Any) -> Any:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(run)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            # The coroutine's thread-sensitive calls ran in this thread.
            connections.close_all()

    thread = threading.Thread(target=target, name="djqueue-async-command")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
