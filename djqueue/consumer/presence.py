"""How a consumer makes itself known to its queues, and counts its runs.

Each heartbeat registers the consumer (the admin's consumers table) and adds
the messages finished since the last one (done, or failed after their last
attempt) to the queues' statistics; runs that a
failing backend did not store are kept for the next heartbeat. A queue whose
backend does not support presence (``supports_presence``) is not registered
with, and the runs of one without statistics (``supports_statistics``) are
not counted.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from ..backends.base import BaseQueue
from ..backends.inspection import MAX_RUNNING_SHOWN, ConsumerInfo, RunningMessage
from ..envelope.message import Message
from ..states import State


class Presence:
    """A consumer's registration and run counts; :meth:`count` is safe from
    every thread."""

    def __init__(
        self,
        queues: Sequence[BaseQueue],
        worker_id: str,
        concurrency: int,
        worker_type: str,
        registration_ttl: float,
        now: Callable[[], datetime],
        held: Callable[[], Iterable[Message]] = tuple,
    ) -> None:
        self.queues = queues
        self._counted = {queue.name for queue in queues if queue.supports_statistics}
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.worker_type = worker_type
        self.registration_ttl = registration_ttl
        self.now = now
        #: The messages the consumer holds now, named at each heartbeat.
        self.held = held
        self.started_at = now()
        self.processed = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._runs: Counter[tuple[str, str, State]] = Counter()
        self._seconds: defaultdict[tuple[str, str, State], float] = defaultdict(float)

    def count(
        self,
        queue: BaseQueue,
        command: str,
        succeeded: bool,
        retried: bool = False,
        seconds: float = 0.0,
    ) -> int:
        """Count a finished run that took ``seconds``; return how many this
        consumer has run.

        The consumer's own counts are of runs (attempts): a failed attempt
        that will be retried counts as failed. The queue's statistics are
        of messages, as its state counts are: a message counts once, done
        or failed, when its last attempt finished, so a ``retried`` attempt
        is not counted there."""
        state = State.DONE if succeeded else State.FAILED
        with self._lock:
            self.processed += 1
            self.failed += not succeeded
            if queue.name in self._counted and not retried:
                self._runs[(queue.name, command, state)] += 1
                self._seconds[(queue.name, command, state)] += seconds
            return self.processed

    def info(self) -> ConsumerInfo:
        """How this consumer describes itself to the queues it serves."""
        held = sorted(self.held(), key=_started)
        running = tuple(
            RunningMessage(m.queue, m.id, m.command, m.started_at)
            for m in held[:MAX_RUNNING_SHOWN]
        )
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
            running=running,
            holding=len(held),
        )

    def announce(self) -> int | None:
        """Register (again) with every queue and add the runs finished since
        the last call to the queues' statistics. Runs not stored because a
        backend failed are kept for the next call. Return how many queues
        were asked, or ``None`` when none was (none supports presence, and
        no runs were counted)."""
        info, now = self.info(), self.now()
        with self._lock:
            runs, self._runs = self._runs, Counter()
            took, self._seconds = self._seconds, defaultdict(float)
        by_queue: dict[str, Counter[tuple[str, State]]] = defaultdict(Counter)
        seconds: dict[str, dict[tuple[str, State], float]] = defaultdict(dict)
        for (queue_name, command, state), number in runs.items():
            by_queue[queue_name][(command, state)] += number
            seconds[queue_name][(command, state)] = took[(queue_name, command, state)]
        asked = 0
        try:
            for queue in self.queues:
                called = False
                if queue.supports_presence:
                    queue.register_consumer(info, self.registration_ttl, now=now)
                    called = True
                if by_queue.get(queue.name):
                    queue.record_runs(
                        by_queue[queue.name], now=now, seconds=seconds[queue.name]
                    )
                    del by_queue[queue.name]
                    called = True
                asked += called
        finally:
            with self._lock:
                for queue_name, counts in by_queue.items():
                    for (command, state), number in counts.items():
                        self._runs[(queue_name, command, state)] += number
                        self._seconds[(queue_name, command, state)] += seconds[
                            queue_name
                        ][(command, state)]
        return asked or None


def _started(message: Message) -> float:
    """Sort key: the longest running first, those not started last."""
    return message.started_at.timestamp() if message.started_at else math.inf
