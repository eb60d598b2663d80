"""Producers: ``python -m benchmarks.producers KIND RATE SECONDS [BACKLOG]``.

For the sustained run, ``KIND`` is ``djqueue`` (``noop.map()`` through the
Django project of the benchmarks, ``BENCH_SYSTEM`` naming the system) or
``skiplocked`` (a multi-row ``INSERT`` into the hand-written table of
:mod:`benchmarks.skiplocked`, ``BENCH_PG_URL``). The producer first queues
message 0 and waits for it to run, so that the consumers are up before the
clock starts; then, every :data:`TICK` seconds, it queues as many messages
as ``RATE`` per second says are due (1, 2, 3, … in order), for ``SECONDS``
seconds. After each tick it stores how many it has queued in all in the
Redis key :func:`produced_key`, and it sets :func:`started_key` to the Unix
time its clock started. For the many consumers' run, ``priorities`` queues
a backlog of low-priority messages behind message 0, then high-priority
ones at ``RATE`` (:func:`priorities`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from . import done

#: Seconds between two batches of enqueues.
TICK = 0.01
#: Seconds the warm-up message may take to run (the consumer's start-up).
WARM_UP_BUDGET = 60.0


def produced_key() -> str:
    return f"{done.run_prefix()}:produced"


def started_key() -> str:
    return f"{done.run_prefix()}:started"


def djqueue_enqueuer() -> Callable[[range], None]:
    import django

    django.setup()
    from .djproject.benchapp.commands import noop

    return lambda numbers: noop.map(numbers)


def skiplocked_enqueuer() -> Callable[[range], None]:
    import psycopg

    from .skiplocked import enqueue

    conn = psycopg.connect(os.environ["BENCH_PG_URL"], autocommit=True)
    return lambda numbers: enqueue(conn, numbers)


def produce(enqueue: Callable[[range], None], rate: float, seconds: float) -> int:
    """Queue message 0, wait for it to run, then queue ``rate`` messages a
    second for ``seconds`` seconds; return how many were queued after 0."""
    redis = done.client()
    enqueue(range(0, 1))
    deadline = time.monotonic() + WARM_UP_BUDGET
    while done.count() < 1:
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up message did not run: no consumer?")
        time.sleep(0.05)
    started = time.monotonic()
    redis.set(started_key(), f"{time.time():.6f}")
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate) - sent
        if due > 0:
            enqueue(range(sent + 1, sent + 1 + due))
            sent += due
            redis.set(produced_key(), sent)
        time.sleep(TICK)
    redis.set(produced_key(), sent)
    return sent


#: The first argument of the high-priority messages of ``priorities``.
HIGH_BASE = 1_000_000
#: Their priority; the backlog's is the default, 0.
HIGH_PRIORITY = 10


def priorities(backlog: int, rate: float, seconds: float) -> int:
    """Queue ``backlog`` messages of priority 0 (1 to ``backlog``) behind
    the warm-up message, then ``rate`` messages a second of priority
    :data:`HIGH_PRIORITY` (``HIGH_BASE``, ``HIGH_BASE + 1``, …) for
    ``seconds`` seconds, message ``HIGH_BASE + n`` due ``n / rate`` seconds
    after the time in :func:`started_key`; return how many high ones."""
    import django

    django.setup()
    from .djproject.benchapp.commands import noop

    low = iter(range(1, backlog + 1))
    first = True

    def enqueue(numbers: range) -> None:
        nonlocal first
        if first:  # the warm-up message, then the low backlog behind it
            noop.map(numbers)
            first = False
            while chunk := [n for n, _ in zip(low, range(10_000), strict=False)]:
                noop.map(chunk)
            return
        high = noop.using(priority=HIGH_PRIORITY)
        high.map(range(HIGH_BASE + numbers.start - 1, HIGH_BASE + numbers.stop - 1))

    return produce(enqueue, rate, seconds)


def main(argv: list[str]) -> None:
    kind, rate, seconds = argv[0], float(argv[1]), float(argv[2])
    if kind == "priorities":
        priorities(int(argv[3]), rate, seconds)
        return
    enqueuer = {"djqueue": djqueue_enqueuer, "skiplocked": skiplocked_enqueuer}
    produce(enqueuer[kind](), rate, seconds)


if __name__ == "__main__":
    main(sys.argv[1:])
