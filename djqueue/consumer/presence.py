"""How a consumer makes itself known to its queues, and counts its runs.

Each heartbeat registers the consumer (the admin's consumers table) and adds
the runs finished since the last one to the queues' statistics; runs that a
failing backend did not store are kept for the next heartbeat. A queue whose
backend does not support presence (``supports_presence``) is not registered
with, and the runs of one without statistics (``supports_statistics``) are
not counted.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from ..backends.base import BaseQueue
from ..inspection import ConsumerInfo
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
    ) -> None:
        self.queues = queues
        self._counted = {queue.name for queue in queues if queue.supports_statistics}
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.worker_type = worker_type
        self.registration_ttl = registration_ttl
        self.now = now
        self.started_at = now()
        self.processed = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._runs: Counter[tuple[str, str, State]] = Counter()

    def count(self, queue: BaseQueue, command: str, succeeded: bool) -> int:
        """Count a finished run; return how many this consumer has run."""
        state = State.DONE if succeeded else State.FAILED
        with self._lock:
            self.processed += 1
            self.failed += not succeeded
            if queue.name in self._counted:
                self._runs[(queue.name, command, state)] += 1
            return self.processed

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

    def announce(self) -> int | None:
        """Register (again) with every queue and add the runs finished since
        the last call to the queues' statistics. Runs not stored because a
        backend failed are kept for the next call. Return how many queues
        were asked, or ``None`` when none was (none supports presence, and
        no runs were counted)."""
        info, now = self.info(), self.now()
        with self._lock:
            runs, self._runs = self._runs, Counter()
        by_queue: dict[str, Counter[tuple[str, State]]] = defaultdict(Counter)
        for (queue_name, command, state), number in runs.items():
            by_queue[queue_name][(command, state)] += number
        asked = 0
        try:
            for queue in self.queues:
                called = False
                if queue.supports_presence:
                    queue.register_consumer(info, self.registration_ttl, now=now)
                    called = True
                if by_queue.get(queue.name):
                    queue.record_runs(by_queue[queue.name], now=now)
                    del by_queue[queue.name]
                    called = True
                asked += called
        finally:
            with self._lock:
                for queue_name, counts in by_queue.items():
                    for (command, state), number in counts.items():
                        self._runs[(queue_name, command, state)] += number
        return asked or None
