"""Where a worker writes the progress its command reports: the message's
queue, as this process built it (in a process worker, the child's own
instance and connection).

A write made from a thread that runs an event loop (an ``async def``
command's coroutine) goes to a thread of its own, one per process, and is
waited for there: Django refuses database calls in such a thread, and one
thread for every such write keeps them in the order they were made.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from ..backends.handler import get_queue
from ..db import close_old_connections
from ..envelope.message import Message

#: Seconds a write from an event loop's thread is waited for.
ASYNC_WRITE_WAIT = 10.0

_writer: ThreadPoolExecutor | None = None
_writer_lock = threading.Lock()


def store_progress(message: Message, progress: str) -> bool:
    """Write ``progress`` to the message's queue. Return False where the
    lease was lost; True, storing nothing, on a backend without
    ``supports_progress``. Raise what the backend raises, and
    ``TimeoutError`` when a write from an event loop's thread takes more
    than :data:`ASYNC_WRITE_WAIT` seconds."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _store(message, progress)
    return (
        _async_writer()
        .submit(_store_apart, message, progress)
        .result(timeout=ASYNC_WRITE_WAIT)
    )


def _store(message: Message, progress: str) -> bool:
    queue = get_queue(message.queue)
    return not queue.supports_progress or queue.set_progress(message, progress)


def _store_apart(message: Message, progress: str) -> bool:
    close_old_connections()
    return _store(message, progress)


def _async_writer() -> ThreadPoolExecutor:
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(1, thread_name_prefix="djqueue-progress")
        return _writer
