"""The no-op command's one side effect: record its argument in Redis.

Every system runs the same body, so the cost is the same for all of them and
the harness can check that each message ran exactly once. The list lives on
the benchmark's Redis (``BENCH_DONE_URL``) under the system's key prefix for
this run (:func:`run_prefix`): the Redis server is shared, so the harness
never flushes a database, it deletes the keys that carry its prefix.
"""

from __future__ import annotations

import functools
import os
import secrets
import time


def run_id() -> str:
    """This run's id, e.g. ``wtbench-1a2b3c4d``: chosen on first use and
    passed to child processes in the environment (``BENCH_RUN``)."""
    if "BENCH_RUN" not in os.environ:
        os.environ["BENCH_RUN"] = f"wtbench-{secrets.token_hex(4)}"
    return os.environ["BENCH_RUN"]


def run_prefix() -> str:
    """The prefix of every Redis key the current system writes in this run,
    e.g. ``wtbench-1a2b3c4d-huey-redis``."""
    return f"{run_id()}-{os.environ['BENCH_SYSTEM']}"


def key() -> str:
    return f"{run_prefix()}:done"


def raw_key() -> str:
    """The list of the raw redis-py limit."""
    return f"{run_prefix()}:raw"


@functools.cache
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=None)


def client():
    """Return the Redis client of the done list named by the environment."""
    return _client(os.environ["BENCH_DONE_URL"])


def record(x: int) -> int:
    """Append ``"<x> <unix time>"`` to the done list and return ``x``."""
    client().rpush(key(), f"{x} {time.time():.6f}")
    return x


def count() -> int:
    return client().llen(key())


def entries() -> list[tuple[int, float]]:
    """Return every (argument, time) recorded so far."""
    pairs = (raw.split() for raw in client().lrange(key(), 0, -1))
    return [(int(x), float(t)) for x, t in pairs]


def wait_one(timeout: float) -> bool:
    """Pop the next record, waiting up to ``timeout`` seconds for it."""
    return client().blpop([key()], timeout=timeout) is not None


def entries_chunked(chunk: int = 100_000):
    """Yield the recorded arguments chunk by chunk (for very long lists)."""
    redis, name = client(), key()
    for first in range(0, redis.llen(name), chunk):
        for raw in redis.lrange(name, first, first + chunk - 1):
            yield int(raw.split()[0])


def delete_run_keys() -> int:
    """Delete every key of this run in this system's database; return how many.

    Each system puts the run's prefix into all of its keys (a queue name, a
    namespace or a key prefix), so this removes what the run wrote and nothing
    else on the shared server.
    """
    redis, deleted = client(), 0
    batch = []
    for name in redis.scan_iter(match=f"*{run_prefix()}*", count=1000):
        batch.append(name)
        if len(batch) == 1000:
            deleted += redis.unlink(*batch)
            batch = []
    if batch:
        deleted += redis.unlink(*batch)
    return deleted
