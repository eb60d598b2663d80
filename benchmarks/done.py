"""The no-op command's one side effect: record its argument in Redis.

Every system runs the same body, so the cost is the same for all of them and
the harness can check that each message ran exactly once. The list lives in
the system's own Redis logical database (``BENCH_DONE_URL``).
"""

from __future__ import annotations

import functools
import os
import time

KEY = "bench:done"


@functools.cache
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=None)


def client():
    """Return the Redis client of the done list named by the environment."""
    return _client(os.environ["BENCH_DONE_URL"])


def record(x: int) -> int:
    """Append ``"<x> <unix time>"`` to the done list and return ``x``."""
    client().rpush(KEY, f"{x} {time.time():.6f}")
    return x


def count() -> int:
    return client().llen(KEY)


def entries() -> list[tuple[int, float]]:
    """Return every (argument, time) recorded so far."""
    pairs = (raw.split() for raw in client().lrange(KEY, 0, -1))
    return [(int(x), float(t)) for x, t in pairs]


def wait_one(timeout: float) -> bool:
    """Pop the next record, waiting up to ``timeout`` seconds for it."""
    return client().blpop([KEY], timeout=timeout) is not None


def clear() -> None:
    client().delete(KEY)
