"""The scenarios: each returns the median of its repetitions, or raises
``CheckFailed`` when the system did not run every message exactly once."""

from __future__ import annotations

import time

from . import done
from .harness import (
    CheckFailed,
    check_exactly_once,
    check_pending,
    median,
    percentile,
    stop_process,
    tree_rss_kib,
    wait_until,
)

FILL_CHUNK = 10_000
#: Seconds of latency sampling per repetition: a consumer that polls once a
#: second would otherwise take minutes; fewer samples are then reported.
LATENCY_BUDGET = 15.0


def enqueue_rate(system, n: int, reps: int, bulk: bool = False) -> dict:
    """Messages per second queued by one process, single or bulk."""
    method = system.bulk_enqueue if bulk else system.enqueue
    rates = []
    for _ in range(reps):
        system.reset()
        started = time.perf_counter()
        method(n)
        rates.append(n / (time.perf_counter() - started))
        check_pending(system.pending(), n, "after enqueue")
    return {"value": median(rates), "runs": rates}


def fill(system, n: int, start: int = 0) -> None:
    """Queue ``n`` messages the fastest way the system offers (untimed)."""
    method = system.bulk_enqueue or system.enqueue
    for first in range(start, start + n, FILL_CHUNK):
        method(min(FILL_CHUNK, start + n - first), first)


def drain_rate(system, n: int, reps: int, concurrency: int | None) -> dict:
    """Messages per second run by one consumer on a full queue, from the
    first message done to the last (consumer start-up is not counted)."""
    n = min(n, system.max_drain_n or n)
    rates = []
    for _ in range(reps):
        system.reset()
        fill(system, n)
        proc = system.start_consumer(concurrency)
        try:
            finished = wait_until(lambda: done.count() >= n, timeout=60 + n / 20)
            time.sleep(0.5)  # a message run twice shows up here
            entries = done.entries()
            pending = system.pending()
        finally:
            stop_process(proc)
        if not finished:
            raise CheckFailed(f"timed out: {len(entries)} of {n} messages ran")
        check_exactly_once(entries, n)
        check_pending(pending, 0, "after the drain")
        times = [t for _, t in entries]
        rates.append((n - 1) / max(max(times) - min(times), 1e-9))
    return {"value": median(rates), "runs": rates, "n": n}


def idle_latency(system, samples: int, reps: int) -> dict:
    """Seconds from enqueueing one message to a waiting consumer until its
    side effect is visible, p50 and p99 (medians over repetitions)."""
    p50s, p99s, taken = [], [], samples
    for _ in range(reps):
        system.reset()
        proc = system.start_consumer(None)
        try:
            _warm_up(system)
            deadline = time.monotonic() + LATENCY_BUDGET
            latencies = []
            while len(latencies) < samples and (
                len(latencies) < 20 or time.monotonic() < deadline
            ):
                latencies.append(_one_round(system, len(latencies) + 1))
        finally:
            stop_process(proc)
        taken = min(taken, len(latencies))
        p50s.append(percentile(latencies, 0.5))
        p99s.append(percentile(latencies, 0.99))
    return {"value": median(p50s), "p99": median(p99s), "runs": p50s, "samples": taken}


def _warm_up(system) -> None:
    system.enqueue(1, 0)
    if not done.wait_one(timeout=60):
        raise CheckFailed("the consumer ran nothing within 60s of starting")


def _one_round(system, i: int) -> float:
    time.sleep(0.02)  # let the consumer go idle
    started = time.perf_counter()
    system.enqueue(1, i)
    if not done.wait_one(timeout=30):
        raise CheckFailed(f"message {i} did not run within 30s")
    return time.perf_counter() - started


def memory(system, small: int, large: int) -> dict:
    """Resident memory (MiB, the consumer's process tree) after ``small``
    then after ``large`` messages, in one consumer's life."""
    system.reset()
    proc = system.start_consumer(None)
    try:
        rss = []
        for first, last in ((0, small), (small, large)):
            fill(system, last - first, first)
            if not wait_until(lambda n=last: done.count() >= n, 120 + last / 20):
                raise CheckFailed(f"timed out: {done.count()} of {last} ran")
            rss.append(tree_rss_kib(proc.pid) / 1024)
        if done.count() != large:
            raise CheckFailed(f"{done.count()} runs recorded for {large} messages")
    finally:
        stop_process(proc)
    return {"value": rss[1], "small": rss[0], "growth": rss[1] - rss[0]}
