"""The master that owns a queue's slot is SIGKILLed while consumers drain
the queue; its replica is promoted and the consumers go on.

Redis replicates asynchronously: what the master had sent its replica
before the kill is kept, the rest (the last claims and acknowledgements)
is lost with it. So every message written and replicated before the kill
runs at least once, and only messages that consumers held around the kill
may run twice. The test counts both, and the seconds from the kill until
the new master serves the queue and until runs resume; it prints them
(``-s`` shows them; docs/reliability.rst has a table of runs).
"""

from __future__ import annotations

import hashlib
import time

import pytest

from djqueue import State, get_queue
from djqueue.backends.redis import lua
from djqueue.consumer.consumer import DEFAULT_PREFETCH
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import lost_and_repeated, wait_until
from .redis_cluster import poll_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]

#: Messages written before the consumers start.
TOTAL = 1000
#: Consumer processes and the threads of each.
CONSUMERS, THREADS = 2, 2
#: What the consumers may hold at the kill, and so run again: per consumer,
#: its threads' runs, its prefetch and a batch of acknowledgements not yet
#: stored (as many again).
HELD_AT_KILL = CONSUMERS * 2 * (THREADS + DEFAULT_PREFETCH)


def _replicated(master, replica) -> bool:
    """Whether ``replica`` has applied everything ``master`` has written."""
    written = int(master.info_field("replication", "master_repl_offset") or -1)
    applied = int(replica.info_field("replication", "slave_repl_offset") or -2)
    return applied >= written


def _done_count() -> int | None:
    """The queue's done count, or None while no master serves its slot."""
    from redis.exceptions import RedisError

    try:
        done: int = get_queue().counts()[State.DONE]
    except RedisError:
        return None
    return done


def _done_reading() -> tuple[int] | None:
    """The done count in a tuple (true even when it is 0), or None."""
    done = _done_count()
    return None if done is None else (done,)


@pytest.mark.parametrize("server_backend", ["redis-cluster"], indirect=True)
def test_a_master_killed_mid_drain_loses_no_replicated_message(
    redis_cluster, server_backend, start_consumer
):
    queue = get_queue()
    master = redis_cluster.master_of(queue.base)
    replica = redis_cluster.replica_of(master)
    results = commands.record_run.map([("failover",)] * TOTAL)
    poll_until(
        lambda: _replicated(master, replica),
        "the replica to apply every write",
        redis_cluster,
        timeout=10,
    )

    consumers = [start_consumer("-c", str(THREADS), lease=2) for _ in range(CONSUMERS)]
    try:
        wait_until(
            lambda: Run.objects.count() >= TOTAL // 4, 60, "a quarter run", *consumers
        )
        # The new master must load the scripts: replicas have none of them.
        claim_sha = hashlib.sha1(lua.source("claim").encode()).hexdigest()
        assert master.cli("script", "exists", claim_sha).split() == ["1"]
        assert replica.cli("script", "exists", claim_sha).split() == ["0"]
        redis_cluster.kill(master)
        killed_at = time.monotonic()
        last_run_before_kill = Run.objects.order_by("-pk").values_list("pk", flat=True)[
            0
        ]

        (done_after_promotion,) = poll_until(
            _done_reading, "a master to serve the slot", redis_cluster, timeout=30
        )
        served_after = time.monotonic() - killed_at
        poll_until(
            lambda: redis_cluster.serving(queue.base) is replica,
            "the replica to be the slot's master",
            redis_cluster,
            timeout=10,
        )
        poll_until(
            lambda: (_done_count() or 0) > done_after_promotion,
            "a run acknowledged on the new master",
            redis_cluster,
            timeout=30,
        )
        resumed_after = time.monotonic() - killed_at

        wait_until(
            lambda: (_done_count() or 0) == TOTAL, 90, "every message done", *consumers
        )
    finally:
        for proc in consumers:
            proc.stop()
        if not master.alive:
            redis_cluster.restart(master)
        redis_cluster.wait_until_ok()

    lost, twice = lost_and_repeated(results)
    print(
        f"\nFAILOVER lost={len(lost)} duplicated={len(twice)} "
        f"served_after={served_after:.2f}s resumed_after={resumed_after:.2f}s"
    )
    assert not lost, f"{len(lost)} replicated messages never ran"
    counts = get_queue().counts()
    assert counts[State.FAILED] == 0
    assert counts[State.DONE] == TOTAL
    # A message run twice was held by a consumer at the kill: its first run
    # started before it, or among the runs of what the consumers held.
    first_runs = {
        message_id: pk
        for pk, message_id in Run.objects.order_by("-pk").values_list(
            "pk", "message_id"
        )
    }
    late = {m for m in twice if first_runs[m] > last_run_before_kill + HELD_AT_KILL}
    assert not late, f"{len(late)} messages first run after the kill ran twice"
    assert len(twice) <= HELD_AT_KILL
