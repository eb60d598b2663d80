"""The consumer: take messages off queues and run them on worker threads.

Plain Python, independent of the command line: ``run_queue`` only parses its
arguments and calls :meth:`Consumer.run`. The main thread claims messages (no
more than there are idle workers), renews the leases of running messages,
promotes due scheduled messages, reclaims expired leases and deletes expired
results; the worker threads run messages and record their outcomes.

A message whose worker was lost (its lease expired: the process died, perhaps
killed by that very message) comes back suspect, and runs alone: the consumer
lets its running messages finish, claims the suspect, and claims nothing else
until it ends. If it kills the process again, it alone is charged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue as queue_module
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from django.db import connections
from django.utils import timezone

from .backends.base import BaseQueue
from .conf import settings
from .db import close_old_connections
from .execution import Outcome
from .inspection import ConsumerInfo
from .message import Message
from .outages import STOP_CALL_WAIT, CallAbandoned, CallWatch, Outage
from .outcomes import (
    Backoff,
    announce,
    log_outcome,
    record_outcome,
    warn_lease_lost,
)
from .periodic import PeriodicTicker
from .queues import get_queue, queue_names
from .states import State
from .systemd import SystemdNotifier
from .workers import Runner, ThreadRunner

logger = logging.getLogger("djqueue.consumer")

#: Seconds between promotions of due scheduled messages: a message runs at
#: most about this late.
PROMOTE_INTERVAL = 0.5
PURGE_INTERVAL = 60.0


class Consumer:
    """Consume ``queues`` with ``concurrency`` worker threads until stopped.

    ``burst`` drains what is ready and returns. :meth:`stop` (safe from a
    signal handler) stops taking messages, waits up to ``grace_period``
    seconds for running ones and releases the rest to their queue without
    counting the attempt; a second :meth:`stop` releases at once. Once
    stopping, a backend call of the main thread that gets no answer within
    a few seconds (``STOP_CALL_WAIT``) is abandoned, if ``run_queue``
    enabled interrupts: then, or when messages could not be released,
    :attr:`unanswered` is set. ``clock`` (monotonic seconds) paces
    housekeeping and ``now`` (aware datetimes) dates claims, retries and
    leases; tests inject both.
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
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1.")
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
        self._runners: list[Runner] = []
        self.periodic = periodic and not burst
        self._ticks = PeriodicTicker(self.queues) if self.periodic else None
        self._ready = False
        self.heartbeat_interval = self.lease_seconds / 3
        self.processed = 0
        self.failed = 0
        self.worker_type = worker_type
        self.started_at = now()
        self._runs: Counter[tuple[str, str, State]] = Counter()
        self._inflight: dict[str, tuple[BaseQueue, Message]] = {}
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._force = False
        self._work: queue_module.SimpleQueue = queue_module.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._due: dict[str, float] = {}
        self._outage = Outage(clock, close_old_connections)
        self.watch = CallWatch(self._outage.stalled, self._feed_watchdog)
        self._watchdog_fed = 0.0
        #: Whether the consumer stopped without the backend's answer: a call
        #: abandoned, or messages it could not release (they run again once
        #: their lease expires).
        self.unanswered = False
        self.unreleased = 0
        self._single_queue = len(self.queues) == 1
        self._isolating = [q for q in self.queues if q.supports_suspects]
        # Whether a suspect message may be waiting (then nothing new starts
        # until it ran alone), and the id of the one running alone.
        self._suspects_waiting = False
        self._draining_since: float | None = None
        self._alone: str | None = None
        # Waiting on the server is possible when there is one queue to watch.
        self._waits_on_server = (
            self._single_queue and self.queues[0].supports_wakeup and not burst
        )

    # -- Control ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop gracefully; called a second time, release running messages now.

        Tells systemd at once, whatever the main thread is waiting for.
        """
        if self._stopping.is_set():
            self._force = True
            self.watch.deadline = time.monotonic()
        else:
            self.watch.deadline = time.monotonic() + STOP_CALL_WAIT
            self.notifier.stopping(self.grace_period + 10)
        self._stopping.set()
        self._wakeup.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> None:
        """Consume until stopped (or, in burst mode, until nothing is ready)."""
        logger.info(
            "Consumer %s started: queues %s, %d worker thread(s), lease %.0fs",
            self.worker_id,
            ", ".join(q.name for q in self.queues),
            self.concurrency,
            self.lease_seconds,
        )
        self._start_workers()
        self.watch.start()
        try:
            self._loop()
        except CallAbandoned as exc:
            self._abandoned(exc)
        finally:
            self._shutdown()
            self._sign_off()
            self._disconnect()
            self.watch.close()
        logger.info(
            "Consumer %s stopped after %d message(s)", self.worker_id, self.processed
        )

    # -- The main loop -----------------------------------------------------------

    def _loop(self) -> None:
        idle = Backoff(0.01, self.poll_interval)
        errors = Backoff(0.1, 5.0)
        while not self._stopping.is_set():
            self._maintain()
            free = self._free_workers()
            if free <= 0:
                self._wait(min(self.heartbeat_interval, PROMOTE_INTERVAL))
                continue
            # Sampled before claiming: a worker may requeue a retry and leave
            # _inflight while the claim runs, and burst must not exit on it.
            nothing_in_flight = not self._inflight
            claimed = self._claim(free)
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
                if not self._guarded("promote", self._promote_all):
                    return
            elif self._waits_on_server:
                if self._wait_on_server() is None:
                    self._wait(errors.next())
                else:
                    errors.reset()
            else:
                self._wait(min(idle.next(), self._until("promote")))

    def _free_workers(self) -> int:
        """How many messages to claim: none while a suspect message runs
        alone, nor while the running messages finish to let one run alone.
        Running messages that take long do not stall the consumer: it waits
        for them one lease at a time, taking messages in between."""
        with self._lock:
            busy = len(self._inflight)
            if self._alone not in self._inflight:
                self._alone = None  # its id may come back, an ordinary message
        if self._alone is not None:
            return 0
        if busy and self._suspects_waiting:
            if self._draining_since is None:
                self._draining_since = self.clock()
            waited = self.clock() - self._draining_since
            if waited % (2 * self.lease_seconds) < self.lease_seconds:
                return 0
        return self.concurrency - busy

    def _claim(self, limit: int) -> int | None:
        """Claim up to ``limit`` messages and hand them to workers; return how
        many, or ``None`` if a backend could not be reached. A suspect
        message waiting comes first, alone."""
        if self._suspects_waiting and not self._inflight:
            alone = self._claim_suspect()
            if alone != 0:
                return alone
        claimed = 0
        for queue in self.queues:
            what = f"claim from queue {queue.name!r}"
            try:
                with self._asking(what) as started:
                    messages = queue.claim(
                        self.worker_id, self.lease_seconds, limit - claimed,
                        now=self.now(),
                    )  # fmt: skip
            except Exception as exc:
                self._outage.failed(what, exc)
                return None
            self._outage.answered(started)
            for message in messages:
                with self._lock:
                    self._inflight[message.id] = (queue, message)
                self._work.put((queue, message))
            claimed += len(messages)
            if claimed >= limit:
                break
        return claimed

    def _claim_suspect(self) -> int | None:
        """Claim one suspect message to run alone; return 1, 0 when none is
        waiting, or ``None`` if a backend could not be reached."""
        self._draining_since = None
        for queue in self._isolating:
            what = f"claim from queue {queue.name!r}"
            try:
                with self._asking(what) as started:
                    message = queue.claim_suspect(
                        self.worker_id, self.lease_seconds, now=self.now()
                    )
            except Exception as exc:
                self._outage.failed(what, exc)
                return None
            self._outage.answered(started)
            if message is not None:
                logger.warning(
                    "Running message %s (%s) alone: its worker was lost when "
                    "it last ran", message.id, message.command,
                )  # fmt: skip
                self._alone = message.id
                with self._lock:
                    self._inflight[message.id] = (queue, message)
                self._work.put((queue, message))
                return 1
        self._suspects_waiting = False
        return 0

    def _look_for_suspects(self) -> int | None:
        """Note whether a suspect message waits: one index lookup a queue;
        None when there was nothing to look up."""
        if not self._isolating or self._suspects_waiting:
            return None
        self._suspects_waiting = any(q.has_suspects() for q in self._isolating)
        return 1

    def _wait_on_server(self) -> bool | None:
        """Wait until the queue says a message may be ready, at most until
        the next housekeeping; return whether it did, or ``None`` if the
        backend could not be reached."""
        queue = self.queues[0]
        what = f"wait for messages on queue {queue.name!r}"
        self._wakeup.clear()
        try:
            # Not an answer: a backend may wait without asking its server.
            with self._asking(what):
                return queue.wait_for_messages(max(self._until("promote"), 0.01))
        except Exception as exc:
            self._outage.failed(what, exc)
            return None

    def _wait(self, seconds: float) -> None:
        self._wakeup.wait(seconds)
        self._wakeup.clear()

    def _until(self, name: str) -> float:
        """Seconds until the housekeeping step ``name`` is due."""
        return max(self._due.get(name, 0) - self.clock(), 0.0)

    def _every(self, name: str, interval: float) -> bool:
        now = self.clock()
        if now < self._due.get(name, 0):
            return False
        self._due[name] = now + interval
        return True

    def _maintain(self) -> None:
        self._watchdog()
        if self._every("heartbeat", self.heartbeat_interval):
            self._guarded("heartbeat", self._heartbeat)
            self._guarded("register the consumer", self._announce)
        if self._every("promote", PROMOTE_INTERVAL):
            self._guarded("promote", self._promote_all)
            self._guarded("look for suspect messages", self._look_for_suspects)
            if self._ticks is not None:
                # Only a tick written proves that the backend answered.
                self._guarded(
                    "write periodic ticks",
                    lambda: self._ticks.write(self.now()) or None,
                )
        if self._every("reclaim", min(self.lease_seconds / 2, 5.0)):
            self._guarded("reclaim", self._reclaim_all)
        if self._every("purge", PURGE_INTERVAL):
            self._guarded("purge", self._purge_all)

    def _watchdog(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval and self._ready and self._every("watchdog", interval):
            self.notifier.watchdog()

    def _feed_watchdog(self) -> None:
        """From the call watch, while the main thread waits on the backend:
        the process is healthy and honours SIGTERM, and a restart would not
        make the backend answer, so systemd's watchdog stays fed."""
        interval = self.notifier.watchdog_interval
        if interval and self._ready and time.monotonic() >= self._watchdog_fed:
            self._watchdog_fed = time.monotonic() + interval
            self.notifier.watchdog()

    @contextlib.contextmanager
    def _asking(self, what: str) -> Iterator[float]:
        """Mark a backend call of the main thread; yield when it started."""
        started = self.clock()
        with self.watch.calling(what, started):
            yield started

    def _guarded(self, what: str, action: Callable[[], int | None]) -> int:
        """Run a housekeeping step; ``action`` returns a count, or None when
        it asked the backend nothing (then its success proves nothing)."""
        try:
            with self._asking(what) as started:
                done = action()
        except Exception as exc:
            self._outage.failed(what, exc)
            return 0
        if done is not None:
            self._outage.answered(started)
        return done or 0

    def _abandoned(self, exc: CallAbandoned) -> None:
        what, seconds = exc.args
        if not self.unanswered:
            logger.error(
                "Gave up waiting %.1fs for the queue backend to %s; stopping "
                "without its answer",
                seconds, what,
            )  # fmt: skip
        self.unanswered = True

    def _by_queue(self) -> dict[BaseQueue, list[Message]]:
        grouped: dict[BaseQueue, list[Message]] = defaultdict(list)
        with self._lock:
            for queue, message in self._inflight.values():
                grouped[queue].append(message)
        return grouped

    def _heartbeat(self) -> int | None:
        """Renew the leases of running messages; None if there are none."""
        by_queue = self._by_queue()
        if not by_queue:
            return None
        return sum(
            queue.extend(messages, self.lease_seconds, now=self.now())
            for queue, messages in by_queue.items()
        )

    def info(self) -> ConsumerInfo:
        """How this consumer describes itself to the queues it serves."""
        return ConsumerInfo(
            id=self.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=tuple(queue.name for queue in self.queues),
            concurrency=self.concurrency,
            worker_type=self.worker_type,
            started_at=self.started_at,
            heartbeat_at=self.now(),
            processed=self.processed,
            failed=self.failed,
        )

    def _announce(self) -> int:
        """Register (again) with every queue and add the runs finished since
        the last call to the queues' statistics. Runs not stored because a
        backend failed are kept for the next call."""
        info, now = self.info(), self.now()
        ttl = self.lease_seconds + self.heartbeat_interval
        with self._lock:
            runs, self._runs = self._runs, Counter()
        by_queue: dict[str, Counter] = defaultdict(Counter)
        for (queue_name, command, state), number in runs.items():
            by_queue[queue_name][(command, state)] += number
        try:
            for queue in self.queues:
                queue.register_consumer(info, ttl, now=now)
                if by_queue.get(queue.name):
                    queue.record_runs(by_queue[queue.name], now=now)
                    del by_queue[queue.name]
        finally:
            with self._lock:
                for queue_name, counts in by_queue.items():
                    for (command, state), number in counts.items():
                        self._runs[(queue_name, command, state)] += number
        return len(self.queues)

    def _sign_off(self) -> None:
        """Store the last run statistics and leave the consumer lists,
        unless the backend stopped answering."""
        try:
            if not self.unanswered:
                self._guarded("record run statistics", self._announce)
            for queue in self.queues:
                if self.unanswered:
                    return
                try:
                    with self._asking(f"unregister from queue {queue.name!r}"):
                        queue.unregister_consumer(self.worker_id)
                except Exception as exc:
                    logger.debug("Cannot unregister from %r: %s", queue.name, exc)
        except CallAbandoned as exc:
            self._abandoned(exc)

    def _disconnect(self) -> None:
        """Close the queues' connections and this thread's database ones."""
        for queue in self.queues:
            queue.close()
        connections.close_all()

    def _promote_all(self) -> int:
        return sum(queue.promote_due(now=self.now()) for queue in self.queues)

    def _reclaim_all(self) -> int:
        reclaimed = sum(queue.reclaim_expired(now=self.now()) for queue in self.queues)
        if reclaimed:
            logger.warning("Reclaimed %d message(s) whose lease expired", reclaimed)
            self._suspects_waiting = bool(self._isolating)
        return reclaimed

    def _purge_all(self) -> int:
        return sum(queue.purge_expired(now=self.now()) for queue in self.queues)

    # -- Workers -----------------------------------------------------------------

    def _start_workers(self) -> None:
        for number in range(self.concurrency):
            thread = threading.Thread(
                target=self._work_loop, name=f"djqueue-worker-{number}", daemon=True
            )
            thread.start()
            self._workers.append(thread)

    def _work_loop(self) -> None:
        runner = self.runner_factory()
        with self._lock:
            self._runners.append(runner)
        try:
            while (item := self._work.get()) is not None:
                queue, message = item
                while message is not None:
                    following = None
                    try:
                        following = self._run(runner, queue, message)
                    except Exception:
                        logger.exception(
                            "Unexpected error running message %s", message.id
                        )
                    finally:
                        self._finished(message)
                        # Only a worker that leased nothing next frees a slot
                        # for the main thread; waking it per message costs.
                        if following is None:
                            self._wakeup.set()
                    message = following
        finally:
            runner.close()
            connections.close_all()

    def _finished(self, message: Message) -> None:
        """Forget this run of ``message``, and only this run: once its retry
        is recorded, the main thread may have claimed the next attempt,
        which has the same id and must stay in flight."""
        with self._lock:
            entry = self._inflight.get(message.id)
            if entry is not None and entry[1] is message:
                del self._inflight[message.id]

    def _run(
        self, runner: Runner, queue: BaseQueue, message: Message
    ) -> Message | None:
        """Run one message and record its outcome; return the next message
        this worker leased in the same round trip, if any."""
        close_old_connections()
        started = self.clock()
        try:
            outcome = runner.run(message, self.now)
        finally:
            close_old_connections()
        elapsed = self.clock() - started
        following, recorded = self._ack_and_continue(queue, message, outcome)
        if recorded is None:
            recorded = self._record(queue, message, outcome)
        if recorded:
            announce(message, outcome)
        succeeded = outcome.state == State.DONE
        with self._lock:
            self.processed += 1
            self.failed += not succeeded
            outcome_key = State.DONE if succeeded else State.FAILED
            self._runs[(queue.name, message.command, outcome_key)] += 1
            if self.max_messages and self.processed >= self.max_messages:
                logger.info(
                    "Stopping after %d message(s) (--max-messages)", self.processed
                )
                self.stop()
        log_outcome(message, outcome, elapsed, runner.enforces_timeouts)
        return following

    def _ack_and_continue(
        self, queue: BaseQueue, message: Message, outcome: Outcome
    ) -> tuple[Message | None, bool | None]:
        """For a message that succeeded, acknowledge it and lease this
        worker's next message in one call, when nothing argues against it:
        one queue (so queue order is kept), not stopping, no message limit,
        no suspect message waiting to run alone (or running).
        Return the next message and whether the ack was stored (None when it
        was not tried or failed, so the caller records the usual way)."""
        if (
            outcome.state != State.DONE
            or not self._single_queue
            or self._stopping.is_set()
            or self.max_messages
            or self._suspects_waiting
        ):
            return None, None
        try:
            kept, leased = queue.ack_and_claim(
                message,
                outcome.result,
                message.options.get("result_ttl", 0),
                self.worker_id,
                self.lease_seconds,
                now=self.now(),
            )
        except Exception:
            close_old_connections()
            return None, None
        following = leased[0] if leased else None
        if following is not None:
            with self._lock:
                self._inflight[following.id] = (queue, following)
        if not kept:
            warn_lease_lost(message)
        return following, kept

    def _record(self, queue: BaseQueue, message: Message, outcome: Outcome) -> bool:
        return record_outcome(
            queue, message, outcome, deadline=self.clock() + self.lease_seconds,
            clock=self.clock, on_error=self._outage.failed,
            on_stored=self._outage.answered, now=self.now,
        )  # fmt: skip

    # -- Shutdown ----------------------------------------------------------------

    def _shutdown(self) -> None:
        if not self._stopping.is_set():  # burst mode ran out of messages
            self.notifier.stopping(self.grace_period + 10)
        deadline = self.clock() + self.grace_period
        self.watch.deadline = time.monotonic() + self.grace_period
        if self._inflight and not self._force:
            logger.info(
                "Waiting up to %.0fs for %d running message(s)",
                self.grace_period, len(self._inflight),
            )  # fmt: skip
        while self._inflight and not self._force and self.clock() < deadline:
            self._watchdog()
            if not self.unanswered and self._every(
                "heartbeat", self.heartbeat_interval
            ):
                try:
                    self._guarded("heartbeat", self._heartbeat)
                except CallAbandoned as exc:
                    self._abandoned(exc)
            self._wait(min(0.2, max(deadline - self.clock(), 0)))
        leftover = self._by_queue()
        self.watch.deadline = time.monotonic() + STOP_CALL_WAIT
        for queue, messages in leftover.items():
            self._release(queue, messages)
        if leftover:
            with self._lock:
                runners = list(self._runners)
            for runner in runners:
                runner.kill()
        for _ in self._workers:
            self._work.put(None)
        close_old_connections()

    def _release(self, queue: BaseQueue, messages: list[Message]) -> None:
        """Give unfinished messages back to their queue, unless the backend
        does not answer by the deadline: then they run again once their
        lease expires."""
        deadline = self.watch.deadline
        try:
            if deadline is None or time.monotonic() < deadline:
                with self._asking(f"release messages to queue {queue.name!r}"):
                    released = queue.release(messages)
                logger.warning(
                    "Released %d unfinished message(s) back to queue %r",
                    released, queue.name,
                )  # fmt: skip
                return
        except CallAbandoned as exc:
            self._abandoned(exc)
        except Exception:
            logger.exception("Cannot release %d message(s)", len(messages))
        self.unanswered = True
        self.unreleased += len(messages)
        logger.warning(
            "Did not release %d unfinished message(s) of queue %r; they run "
            "again once their lease expires",
            len(messages), queue.name,
        )  # fmt: skip
