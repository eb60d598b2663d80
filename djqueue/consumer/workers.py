"""The consumer's worker threads: run a leased message, record its outcome.

Each worker thread owns a :class:`~djqueue.consumer.runners.Runner` (the
command runs in the thread, or in a child process of its own) and takes the
messages the main thread claimed, in claim order. A success goes to the
consumer's :class:`~djqueue.consumer.acks.AckBuffer`; a retry or a failure
is stored at once. Once stopping, a worker starts nothing new: what it had
not started is released by the consumer. With ``async_runs`` above one,
each worker thread runs that many messages at once on an event loop
instead (:mod:`.event_loops`), each through :meth:`Workers.carry_out` too.
"""

from __future__ import annotations

import logging
import queue as queue_module
import threading
from typing import TYPE_CHECKING

from django.db import connections

from ..backends.base import BaseQueue
from ..db import close_old_connections
from ..envelope.message import Message
from ..states import State
from .event_loops import EventLoopWorker
from .outcomes import announce, log_outcome, record_outcome
from .runners import Runner

if TYPE_CHECKING:
    from .consumer import Consumer

logger = logging.getLogger("djqueue.consumer")


class Workers:
    """The worker threads of ``consumer``; :meth:`give` queues a message
    for the next free one."""

    def __init__(self, consumer: Consumer, low_water: int, async_runs: int = 1) -> None:
        self.consumer = consumer
        #: Messages each worker thread runs at once, on an event loop of its
        #: own when more than one (see :mod:`.event_loops`).
        self.async_runs = async_runs
        #: When fewer claimed messages than this wait for a worker, a worker
        #: that finishes one asks the main thread for more.
        self.low_water = low_water
        self.work: queue_module.SimpleQueue[tuple[BaseQueue, Message] | None] = (
            queue_module.SimpleQueue()
        )
        self.runners: list[Runner | EventLoopWorker] = []
        #: How many messages the workers are running now.
        self.running = 0
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, number: int) -> None:
        for index in range(number):
            target = self._loop
            if self.async_runs > 1:
                target = self._serve_on_a_loop
            thread = threading.Thread(
                target=target, name=f"djqueue-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def give(self, queue: BaseQueue, message: Message) -> None:
        self.work.put((queue, message))

    def kill_runs(self) -> None:
        """Kill what the runners run, where they can (process workers)."""
        with self._lock:
            runners = list(self.runners)
        for runner in runners:
            runner.kill()

    def stop(self) -> None:
        """Let every worker thread end once it has finished its message."""
        for _ in self._threads:
            self.work.put(None)

    def _loop(self) -> None:
        runner = self.consumer.runner_factory()
        with self._lock:
            self.runners.append(runner)
        try:
            while (item := self.work.get()) is not None:
                if self.begin():
                    self.carry_out(runner, *item)
        finally:
            runner.close()
            connections.close_all()

    def _serve_on_a_loop(self) -> None:
        worker = EventLoopWorker(self, self.async_runs)
        with self._lock:
            self.runners.append(worker)
        worker.serve()

    def begin(self) -> bool:
        """Count a run as started, unless the consumer is stopping: then
        return False, and the message, not started, is released at
        shutdown."""
        with self._lock:
            # Under the lock: a stopping consumer that sees nothing running
            # releases what is left, and this must not start.
            if self.consumer.stopping:
                return False
            self.running += 1
            return True

    def carry_out(self, runner: Runner, queue: BaseQueue, message: Message) -> None:
        """Run a message that :meth:`begin` counted and record its outcome;
        then let go of it and ask for more work. Never raises ``Exception``."""
        buffered = False
        try:
            buffered = self._run(runner, queue, message)
        except Exception:
            logger.exception("Unexpected error running message %s", message.id)
        finally:
            if not buffered:
                self.consumer.inflight.finish(message)
            with self._lock:
                self.running -= 1
            self._ask_for_more()

    def _ask_for_more(self) -> None:
        """Wake the main thread to claim when the claimed messages run low,
        and store waiting acks at once when this worker is about to idle."""
        waiting = self.work.qsize()
        if waiting == 0:
            self.consumer.acks.store_soon()
        if waiting < self.low_water:
            self.consumer.wake()

    def _run(self, runner: Runner, queue: BaseQueue, message: Message) -> bool:
        """Run one message and store its outcome, or hand a success to the
        ack buffer: return whether it did that."""
        consumer = self.consumer
        close_old_connections()
        started = consumer.clock()
        try:
            outcome = runner.run(message, consumer.now)
        finally:
            close_old_connections()
        elapsed = consumer.clock() - started
        succeeded = outcome.state == State.DONE
        retried = not succeeded and outcome.state != State.FAILED
        processed = consumer.presence.count(
            queue, message.command, succeeded, retried=retried, seconds=elapsed
        )
        log_outcome(message, outcome, elapsed, runner.enforces_timeouts)
        if succeeded:
            consumer.acks.add(queue, message, outcome)
        elif record_outcome(
            queue,
            message,
            outcome,
            deadline=consumer.clock() + consumer.lease_seconds,
            clock=consumer.clock,
            on_error=consumer.outage.failed,
            on_stored=consumer.outage.answered,
            now=consumer.now,
        ):
            announce(message, outcome)
        if consumer.max_messages and processed >= consumer.max_messages:
            logger.info("Stopping after %d message(s) (--max-messages)", processed)
            consumer.stop()
        return succeeded
