"""The consumer: take messages off queues and run them on worker threads.

Plain Python, independent of the command line: ``run_queue`` only parses its
arguments and calls :meth:`Consumer.run`. The main thread claims messages
(:mod:`.claiming`: no more than there are free worker slots, a suspect one
alone) and keeps house between claims (:mod:`.housekeeping`, :mod:`.presence`);
the worker threads (:mod:`.workers`) run messages and record their outcomes.
A backend that fails or stops answering is lived through (:mod:`.outages`);
a stop finishes or releases what the consumer holds (:mod:`.shutdown`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from django.utils import timezone

from ..backends.base import BaseQueue
from ..backends.handler import get_queue, queue_names
from ..commands.periodic import PeriodicTicker
from ..conf import settings
from ..db import close_old_connections
from ..signals import consumer_started, consumer_stopped, send_from
from .acks import AckBuffer
from .claiming import Claimer
from .event_loops import check_async_runs
from .housekeeping import PROMOTE_INTERVAL, Housekeeping, Schedule
from .inflight import InFlight
from .outages import (
    FORCED_CALL_WAIT,
    STOP_CALL_WAIT,
    BackendCalls,
    CallAbandoned,
    CallWatch,
    Outage,
)
from .outcomes import Backoff
from .presence import Presence
from .runners import Runner, ThreadRunner
from .shutdown import Shutdown
from .systemd import SystemdNotifier
from .workers import Workers

logger = logging.getLogger("djqueue.consumer")

#: Messages claimed beyond the workers unless told otherwise: batches of
#: this size cut a Redis drain's cost per message about in half (one
#: worker thread: 2,550/s with none, 3,770/s with 8, 4,200-5,700/s with 16).
DEFAULT_PREFETCH = 16


class Consumer(Housekeeping, Shutdown):
    """Consume ``queues`` with ``concurrency`` worker threads until stopped.

    ``burst`` drains what is ready and returns; a paused queue counts as
    empty, so its messages wait for a consumer once it is resumed.
    :meth:`stop` (safe from a signal handler) stops taking messages, waits
    up to ``grace_period`` seconds for running ones and releases the rest to
    their queue without counting the attempt; a second :meth:`stop` releases
    at once. Once stopping, a backend call of the main thread that gets no
    answer within a few seconds (``STOP_CALL_WAIT``) is abandoned, if
    ``run_queue`` enabled interrupts: then, or when messages could not be released,
    :attr:`unanswered` is set. ``clock`` (monotonic seconds) paces
    housekeeping and ``now`` (aware datetimes) dates claims, retries and
    leases; tests inject both. With ``async_runs`` above one, each worker
    thread runs up to that many messages at once on an event loop of its
    own (:mod:`.event_loops`).

    The main thread's steps between claims are in
    :class:`~djqueue.consumer.housekeeping.Housekeeping`, and how it stops
    in :class:`~djqueue.consumer.shutdown.Shutdown`.
    """

    def __init__(
        self,
        queues: Sequence[str] | None = None,
        concurrency: int = 4,
        *,
        burst: bool = False,
        lease_seconds: float | None = None,
        grace_period: float = 30.0,
        poll_interval: float = 1.0,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = timezone.now,
        notifier: SystemdNotifier | None = None,
        runner_factory: Callable[[], Runner] = ThreadRunner,
        max_messages: int | None = None,
        periodic: bool = True,
        worker_type: str = "thread",
        prefetch: int | None = None,
        async_runs: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1.")
        check_async_runs(async_runs, runner_factory)
        if prefetch is not None and prefetch < 0:
            raise ValueError("prefetch must be at least 0.")
        self.queues: list[BaseQueue] = [get_queue(n) for n in queues or queue_names()]
        self.concurrency = concurrency
        self.burst = burst
        self.lease_seconds = float(lease_seconds or settings.QUEUE_LEASE_SECONDS)
        self.grace_period = grace_period
        self.poll_interval = poll_interval
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock
        self.now = now
        self.notifier = notifier or SystemdNotifier(environ={})
        self.runner_factory = runner_factory
        self.max_messages = max_messages
        #: Messages claimed beyond the worker threads, so that a worker that
        #: finishes one finds the next without waiting for the store.
        self.prefetch = DEFAULT_PREFETCH if prefetch is None else prefetch
        #: Messages each worker thread runs at once (see :mod:`.event_loops`).
        self.async_runs = async_runs
        capacity = concurrency * async_runs + self.prefetch
        self.heartbeat_interval = self.lease_seconds / 3
        self.presence = Presence(
            self.queues,
            self.worker_id,
            concurrency,
            worker_type,
            self.lease_seconds + self.heartbeat_interval,
            now,
            held=lambda: self.inflight.messages(),
        )
        self._ticks = PeriodicTicker(self.queues) if periodic and not burst else None
        self._ready = False
        self.inflight = InFlight()
        self.workers = Workers(self, self.prefetch // 2 + 1, async_runs)
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._force = False
        self._schedule = Schedule(clock)
        self.outage = Outage(clock, close_old_connections)
        self.watch = CallWatch(self.outage.stalled, self._feed_watchdog)
        self.calls = BackendCalls(self.watch, self.outage, clock)
        self.acks = AckBuffer(
            self.inflight,
            self.outage,
            self.lease_seconds,
            batch=capacity,
            interval=settings.QUEUE_ACK_INTERVAL,
            clock=clock,
            now=now,
            on_stored=self.wake,
        )
        self.claimer = Claimer(
            self.queues,
            self.worker_id,
            self.lease_seconds,
            capacity,
            self.inflight,
            self._held,
            self.calls,
            self.workers.give,
            now,
        )
        self._watchdog_fed = 0.0
        #: Whether the consumer stopped without the backend's answer: a call
        #: abandoned, or messages it could not release (they run again once
        #: their lease expires).
        self.unanswered = False
        self.unreleased = 0
        # Waiting on the server is possible when there is one queue to watch.
        self._waits_on_server = (
            len(self.queues) == 1 and self.queues[0].supports_wakeup and not burst
        )

    # -- Control ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop gracefully; called a second time, release running messages now.

        Tells systemd at once, whatever the main thread is waiting for. A
        backend call under way keeps up to ``FORCED_CALL_WAIT`` seconds for
        its answer (never more than the first stop gave it).
        """
        if self._stopping.is_set():
            self._force = True
            cut = time.monotonic() + FORCED_CALL_WAIT
            if self.watch.deadline is None or self.watch.deadline > cut:
                self.watch.deadline = cut
        else:
            self.watch.deadline = time.monotonic() + STOP_CALL_WAIT
            self.notifier.stopping(self.grace_period + 10)
        self._stopping.set()
        self._wakeup.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _held(self) -> int:
        """The messages that count against the consumer's capacity: those in
        flight, but for one batch of acks waiting to be stored."""
        return len(self.inflight) - min(len(self.acks), self.acks.batch)

    def wake(self) -> None:
        """Make the main thread look for work now (a worker slot is free)."""
        self._wakeup.set()

    @property
    def processed(self) -> int:
        return self.presence.processed

    @property
    def failed(self) -> int:
        return self.presence.failed

    def run(self) -> None:
        """Consume until stopped (or, in burst mode, until nothing is ready)."""
        logger.info(
            "Consumer %s started: queues %s, %d worker thread(s)%s, lease %.0fs",
            self.worker_id,
            ", ".join(q.name for q in self.queues),
            self.concurrency,
            f" of {self.async_runs} runs at once" if self.async_runs > 1 else "",
            self.lease_seconds,
        )
        names = [q.name for q in self.queues]
        self.workers.start(self.concurrency)
        self.acks.start()
        self.watch.start()
        send_from(consumer_started, self, worker_id=self.worker_id, queues=names)
        try:
            self._loop()
        except CallAbandoned as exc:
            self._abandoned(exc)
        finally:
            self._shutdown()
            self._sign_off()
            self._disconnect()
            self.watch.close()
            send_from(
                consumer_stopped,
                self,
                worker_id=self.worker_id,
                queues=names,
                processed=self.processed,
            )
        logger.info(
            "Consumer %s stopped after %d message(s)", self.worker_id, self.processed
        )

    # -- The main loop -----------------------------------------------------------

    def _loop(self) -> None:
        idle = Backoff(0.01, self.poll_interval)
        errors = Backoff(0.1, 5.0)
        while not self._stopping.is_set():
            self._maintain()
            if self._stopping.is_set():
                break
            free = self.claimer.free_slots()
            if free <= 0 or self.workers.work.qsize() >= self.workers.low_water:
                self._wait(min(self.heartbeat_interval, PROMOTE_INTERVAL))
                continue
            # Sampled before claiming: a worker may requeue a retry and leave
            # the in-flight set while the claim runs, and burst must not exit.
            nothing_in_flight = not len(self.inflight)
            claimed = self.claimer.claim(free)
            if claimed is not None and not self._ready:
                self._ready = True
                self.notifier.ready(
                    f"Consuming {', '.join(q.name for q in self.queues)}"
                )
            if claimed is None:
                self._wait(errors.next())
            elif claimed:
                idle.reset()
                errors.reset()
            elif self.burst and nothing_in_flight:
                if not self.calls.guarded("promote", self._promote):
                    return
            elif self._waits_on_server and not self.claimer.pauses.paused:
                if self._wait_on_server(free) is None:
                    self._wait(errors.next())
                else:
                    errors.reset()
            else:
                self._wait(min(idle.next(), self._schedule.until("promote")))

    def _wait_on_server(self, free: int) -> bool | None:
        """Wait until the queue says a message may be ready, at most until
        the next housekeeping; with a backend that claims as it wakes, take
        up to ``free`` messages in the same call. Return whether it was
        woken (or claimed), or ``None`` if the backend could not be reached."""
        queue = self.queues[0]
        timeout = max(self._schedule.until("promote"), 0.01)
        self._wakeup.clear()
        if queue.supports_blocking_claim:
            claimed = self.claimer.claim(free, timeout=timeout)
            return None if claimed is None else claimed > 0
        what = f"wait for messages on queue {queue.name!r}"
        try:
            # Not an answer: a backend may wait without asking its server.
            with self.calls.asking(what, patience=timeout):
                return queue.wait_for_messages(timeout)
        except Exception as exc:
            self.outage.failed(what, exc)
            return None

    def _wait(self, seconds: float) -> None:
        self._wakeup.wait(seconds)
        self._wakeup.clear()
