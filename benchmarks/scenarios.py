"""The scenarios: each measures one repetition and returns its figures, or
raises ``CheckFailed`` when the system did not run every message exactly
once; :func:`combine` makes the medians of the repetitions."""

from __future__ import annotations

import time

from . import cpu, done
from .harness import (
    CheckFailed,
    check_at_most_once,
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
#: The memory scenario keeps at most this many messages queued ahead.
FEED_BACKLOG = 2 * FILL_CHUNK
#: Seconds to let a consumer that just ran dry settle before its RSS is read.
MEMORY_SETTLE = 1.0
#: Fields of a drain's CPU time per message, in microseconds.
CPU_FIELDS = ("consumer_us", "servers_us")
#: A memory run fails when no message runs for this long.
MEMORY_STALL = 120.0


def enqueue_rate(system, n: int, bulk: bool = False) -> dict:
    """Messages per second queued by one process, single or bulk."""
    method = system.bulk_enqueue if bulk else system.enqueue
    system.reset()
    started = time.perf_counter()
    method(n)
    rate = n / (time.perf_counter() - started)
    check_pending(system.pending(), n, "after enqueue")
    return {"value": rate}


def fill(system, n: int, start: int = 0) -> None:
    """Queue ``n`` messages the fastest way the system offers (untimed)."""
    method = system.bulk_enqueue or system.enqueue
    for first in range(start, start + n, FILL_CHUNK):
        method(min(FILL_CHUNK, start + n - first), first)


def drain_rate(system, n: int, concurrency: int | None) -> dict:
    """Messages per second run by one consumer on a full queue, from the
    first message done to the last (consumer start-up is not counted), and
    the CPU time per message of the consumer and of the servers over the
    messages after the first tenth (:mod:`benchmarks.cpu`)."""
    system.reset()
    fill(system, n)
    proc = system.start_consumer(concurrency)
    try:
        # CPU is counted from the first tenth on: start-up is not a message's.
        finished = _wait_for(proc, n // 10, timeout=60 + n / 20)
        first, start = done.count(), cpu.snapshot(proc.pid)
        finished = finished and _wait_for(proc, n, timeout=60 + n / 20)
        last, end = done.count(), cpu.snapshot(proc.pid)
        time.sleep(0.5)  # a message run twice shows up here
        entries = done.entries()
        pending = system.pending()
    finally:
        stop_process(proc)
    if not finished:
        raise CheckFailed(f"timed out: {len(entries)} of {n} messages ran")
    check_exactly_once(entries, n)
    check_pending(pending, 0, "after the drain")
    return {
        "value": _rate(sorted(t for _, t in entries)),
        "n": n,
        **cpu.per_message(start, end, last - first),
    }


def depth_rate(system, depth: int, n: int) -> dict:
    """Messages per second run by one consumer (default concurrency) over the
    first ``n`` messages of a queue filled to ``depth``.

    The consumer is stopped once ``n`` have run; no message may have run
    twice, and a djqueue consumer (which releases what it holds when it
    stops) must leave every other message queued.
    """
    n = min(n, depth)
    system.reset()
    began = time.monotonic()
    fill(system, depth)
    # A million messages take minutes to queue: a long run shows its progress.
    print(f"  filled {depth:,} in {time.monotonic() - began:.1f}s", flush=True)
    check_pending(system.pending(), depth, "after filling")
    proc = system.start_consumer(None)
    try:
        finished = _wait_for(proc, n, timeout=120 + n / 20)
    finally:
        stop_process(proc)
    entries, pending = done.entries(), system.pending()
    if not finished:
        raise CheckFailed(f"timed out: {len(entries)} of {n} messages ran")
    check_at_most_once(entries, depth)
    if system.kind == "djqueue":
        check_pending(pending, depth - len(entries), "after stopping the consumer")
    return {"value": _rate(sorted(t for _, t in entries)[:n]), "n": n}


def _wait_for(proc, n: int, timeout: float) -> bool:
    """Wait until ``n`` messages have run; fail at once if the consumer exits."""
    finished = wait_until(
        lambda: done.count() >= n or proc.poll() is not None, timeout=timeout
    )
    if proc.poll() is not None:
        raise CheckFailed(
            f"the consumer exited ({proc.returncode}) after {done.count()} of "
            f"{n} messages (see its log in benchmarks/.work/)"
        )
    return finished and done.count() >= n


def _rate(times: list[float]) -> float:
    """Messages per second from the first of ``times`` to the last."""
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


def idle_latency(system, samples: int) -> dict:
    """Seconds from enqueueing one message to a waiting consumer until its
    side effect is visible, p50 and p99."""
    system.reset()
    proc = system.start_consumer(None)
    try:
        _warm_up(system, proc)
        deadline = time.monotonic() + LATENCY_BUDGET
        latencies = []
        while len(latencies) < samples and (
            len(latencies) < 20 or time.monotonic() < deadline
        ):
            latencies.append(_one_round(system, len(latencies) + 1))
    finally:
        stop_process(proc)
    return {
        "value": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "samples": len(latencies),
    }


def combine(cells: list[dict]) -> dict:
    """One figure from the cells of the repetitions: the median of each
    number, the values of every repetition under ``runs``; the first error
    if any repetition failed."""
    failed = next((cell for cell in cells if "error" in cell), None)
    if failed is not None or any("value" not in cell for cell in cells):
        return failed or cells[0]
    out = {**cells[0], "value": median([c["value"] for c in cells])}
    out["runs"] = [c["value"] for c in cells]
    for field in ("p99", *CPU_FIELDS):
        if all(field in cell for cell in cells):
            out[field] = median([c[field] for c in cells])
    if "samples" in out:
        out["samples"] = min(c["samples"] for c in cells)
    return out


def _warm_up(system, proc) -> None:
    system.enqueue(1, 0)
    for _ in range(60):
        if done.wait_one(timeout=1):
            return
        if proc.poll() is not None:
            raise CheckFailed(f"the consumer exited ({proc.returncode}) at start-up")
    raise CheckFailed("the consumer ran nothing within 60s of starting")


def _one_round(system, i: int) -> float:
    time.sleep(0.02)  # let the consumer go idle
    started = time.perf_counter()
    system.enqueue(1, i)
    if not done.wait_one(timeout=30):
        raise CheckFailed(f"message {i} did not run within 30s")
    return time.perf_counter() - started


def memory(system, checkpoints: list[int]) -> dict:
    """Resident memory (MiB, the consumer's process tree) after each number of
    messages in ``checkpoints``, in one consumer's life.

    The queue is fed in bulk as it drains, never more than ``FEED_BACKLOG``
    ahead, so that a million messages take minutes and the queue stays short;
    at each checkpoint the queue has just run dry and the consumer is idle.
    """
    system.reset()
    proc = system.start_consumer(None)
    samples, fed = [], 0
    try:
        for target in checkpoints:
            fed = _feed_until(system, proc, fed, target)
            time.sleep(MEMORY_SETTLE)
            ran = done.count()
            if ran != target:
                raise CheckFailed(f"{ran} runs recorded for {target} messages")
            samples.append([target, tree_rss_kib(proc.pid) / 1024])
            # A long run shows its progress (and leaves figures if stopped).
            print(f"  after {target:,} messages: {samples[-1][1]:.1f} MiB", flush=True)
        pending = system.pending()
    finally:
        stop_process(proc)
    check_pending(pending, 0, "after the last checkpoint")
    _check_each_once(checkpoints[-1])
    small, large = samples[0][1], samples[-1][1]
    return {
        "value": large,
        "small": small,
        "growth": large - small,
        "ratio": large / small,
        "rss": samples,
        "n": checkpoints[-1],
        "n_small": checkpoints[0],
    }


def _feed_until(system, proc, fed: int, target: int) -> int:
    """Keep the queue fed up to ``target`` messages in all and wait until they
    have all run; return how many were fed. Fail when the consumer exits or
    makes no progress for ``MEMORY_STALL`` seconds."""
    method = system.bulk_enqueue or system.enqueue
    ran, progress_at = done.count(), time.monotonic()
    while ran < target:
        if proc.poll() is not None:
            raise CheckFailed(f"the consumer exited ({proc.returncode}) after {ran}")
        if fed < target and fed - ran < FEED_BACKLOG // 2:
            chunk = min(FILL_CHUNK, target - fed)
            method(chunk, fed)
            fed += chunk
        time.sleep(0.05)
        now_ran = done.count()
        if now_ran != ran:
            ran, progress_at = now_ran, time.monotonic()
        elif time.monotonic() - progress_at > MEMORY_STALL:
            raise CheckFailed(f"no progress for {MEMORY_STALL}s at {ran} of {target}")
    return fed


def _check_each_once(n: int) -> None:
    """``check_exactly_once`` without holding a million (int, time) pairs."""
    seen = bytearray(n)
    extra = twice = 0
    for x in done.entries_chunked():
        if not 0 <= x < n:
            extra += 1
        elif seen[x]:
            twice += 1
        else:
            seen[x] = 1
    missing = n - sum(seen)
    if missing or extra or twice:
        raise CheckFailed(
            f"expected {n} messages run once each: {missing} missing, "
            f"{twice} more runs than messages, {extra} unexpected"
        )
