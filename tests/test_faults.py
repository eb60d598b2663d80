"""Faults injected into running consumers: connections cut from the server
side, a server cut off and back, a consumer (or one process of a
``--processes`` consumer) SIGKILLed again and again. Nothing may be lost."""

import os
import random
import signal
import time
from collections import Counter

import pytest
from django.db import OperationalError, connection

from djqueue import State, get_queue
from djqueue.consumer.consumer import DEFAULT_PREFETCH
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import ConsumerProcess, wait_until
from .test_outages import postgres_proxy, redis_proxy, server_proxy
from .test_processes_supervisor import children

__all__ = ["postgres_proxy", "redis_proxy", "server_proxy"]  # fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.process]

#: The two shapes of consumer the faults are injected into: one process of
#: four threads, and two processes of two threads under a supervisor.
CONSUMERS = {"threads": ("-c", "4"), "processes": ("--processes", "2", "-c", "2")}


def cut_database_connections() -> int:
    """Terminate every other connection to the test database, server side."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]
        cursor.execute(
            "SELECT id FROM information_schema.processlist "
            "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        )
        killed = 0
        for (connection_id,) in cursor.fetchall():
            try:
                cursor.execute(f"KILL {int(connection_id)}")
                killed += 1
            except OperationalError:  # it closed since it was listed
                pass
        return killed


def cut_redis_connections() -> int:
    """Kill the consumer's connections: djqueue names them after the prefix,
    which is unique to this test; other clients of the server are spared."""
    queue = get_queue()
    client = queue.client
    ours = f"djqueue-{queue.prefix}"
    return sum(
        client.client_kill_filter(_id=c["id"])
        for c in client.client_list()
        if c["name"] == ours and c["id"] != str(client.client_id())
    )


def assert_all_done_and_only_in_flight_ran_twice(results, in_flight_at_kills):
    """Every message done, none failed, each run at least once, and only
    those in flight at a kill run more than once."""
    counts = get_queue().counts()
    assert counts[State.FAILED] == 0
    assert counts[State.DONE] == len(results)
    runs = Counter(Run.objects.values_list("message_id", flat=True))
    assert set(runs) == {r.id for r in results}
    assert {message_id for message_id, n in runs.items() if n > 1} <= in_flight_at_kills


@pytest.mark.parametrize("shape", CONSUMERS)
def test_connections_cut_mid_run_lose_nothing(server_backend, tmp_path, shape):
    if not server_backend and connection.vendor == "sqlite":
        pytest.skip("SQLite has no server connection to cut")
    cut = cut_redis_connections if server_backend else cut_database_connections
    results = commands.record_resilient.map([("cut",)] * 400)
    proc = ConsumerProcess(
        tmp_path / "consumer.log", *CONSUMERS[shape], env=server_backend
    )
    try:
        wait_until(lambda: Run.objects.exists(), 60, "the first run", proc)
        cuts = 0
        for _ in range(5):
            cuts += cut()
            time.sleep(0.3)
        wait_until(lambda: all(r.ready() for r in results), 120, "every message", proc)
        assert proc.process.poll() is None, "the consumer exited"
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.stop()
    assert cuts > 0
    assert {r.status for r in results} == {State.DONE}
    assert set(Run.objects.values_list("message_id", flat=True)) == {
        r.id for r in results
    }
    if not server_backend:  # redis-py reconnects by itself; nothing to log
        assert "retrying with backoff" in proc.log()


def test_ten_thousand_messages_survive_five_sigkills(server_backend, tmp_path):
    """Every message runs at least once, none fails, and only messages that
    were in flight at a kill run twice."""
    if connection.vendor == "mysql" and not server_backend:
        pytest.skip("the longest test runs on SQLite, PostgreSQL and Redis only")
    total = 10_000
    results = commands.record_run.map([("kill",)] * total)
    env = {**server_backend, "DJQUEUE_LEASE": "2"}
    rng = random.Random(1)
    in_flight_at_kills = set()
    procs = []

    def start():
        procs.append(
            ConsumerProcess(tmp_path / f"c{len(procs)}.log", "-c", "4", env=env)
        )
        return procs[-1]

    try:
        proc = start()
        for _ in range(5):
            threshold = Run.objects.count() + rng.randint(200, 1200)
            wait_until(
                lambda n=threshold: Run.objects.count() >= n, 120, "progress", proc
            )
            proc.signal(signal.SIGKILL)
            proc.wait(10)
            in_flight_at_kills |= {
                m.id for m in get_queue().list_messages(State.RUNNING, limit=1000)
            }
            proc = start()
        queue = get_queue()
        wait_until(
            lambda: queue.counts()[State.DONE] + queue.counts()[State.FAILED] == total,
            600,
            "every message finished",
            proc,
        )
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        for started in procs:
            started.stop()

    assert_all_done_and_only_in_flight_ran_twice(results, in_flight_at_kills)
    # What one consumer holds: its threads' runs and its prefetch (4 + 16 by
    # default), and one batch of acks not yet stored (as many again).
    assert len(in_flight_at_kills) <= 5 * 2 * (4 + DEFAULT_PREFETCH)


@pytest.mark.parametrize(
    "server_backend", ["database", "redis", "redis-cluster"], indirect=True
)
def test_sigkilled_processes_of_a_process_consumer_lose_nothing(
    server_backend, tmp_path
):
    """``--processes 2``: one child SIGKILLed five times, each time while it
    runs; the supervisor replaces it, every message runs, none fails, and
    only messages in flight at a kill run twice. Each kill comes with a
    batch of its own, so that a fast consumer never runs out of work
    before the fifth."""
    env = {**server_backend, "DJQUEUE_LEASE": "2"}
    proc = ConsumerProcess(tmp_path / "consumer.log", *CONSUMERS["processes"], env=env)
    rng = random.Random(2)
    results, in_flight_at_kills, killed = [], set(), []
    try:
        for _ in range(5):
            threshold = Run.objects.count() + rng.randint(20, 100)
            results += commands.record_run.map([("kill",)] * 200)
            wait_until(
                lambda n=threshold: Run.objects.count() >= n, 120, "progress", proc
            )
            # A child that has run messages is running more: the queue is full.
            wait_until(lambda: busy_children(proc), 30, "a busy child", proc)
            slot, victim = rng.choice(busy_children(proc))
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            in_flight_at_kills |= {
                m.id for m in get_queue().list_messages(State.RUNNING, limit=1000)
            }
            wait_until(
                lambda s=slot, v=victim: dict(children(proc))[s] != v,
                30, "the killed child to be replaced", proc,
            )  # fmt: skip
        queue = get_queue()
        wait_until(
            lambda: queue.counts()[State.DONE] + queue.counts()[State.FAILED]
            == len(results),
            300, "every message finished", proc,
        )  # fmt: skip
        proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        proc.stop()

    assert_all_done_and_only_in_flight_ran_twice(results, in_flight_at_kills)
    assert len(set(killed)) == 5
    # Two children, each with its threads' runs, its prefetch and a batch of
    # acks not yet stored; the listing after a kill holds both children's.
    assert len(in_flight_at_kills) <= 5 * 2 * 2 * (2 + DEFAULT_PREFETCH)


def busy_children(proc) -> list[tuple[int, int]]:
    """(slot, pid) of the live children of a supervisor that have run."""
    busy = set(Run.objects.values_list("pid", flat=True))
    return [(slot, pid) for slot, pid in dict(children(proc)).items() if pid in busy]


@pytest.mark.parametrize("shape", CONSUMERS)
def test_a_server_cut_off_and_back_loses_nothing(server_proxy, tmp_path, shape):
    """The server refuses every connection for a while (a restart, seen from
    the consumer) while messages run, then comes back: each message is done,
    none failed, and the consumer ran on without being restarted."""
    proxy, env = server_proxy
    results = commands.record_resilient.map([("restart",)] * 300)
    proc = ConsumerProcess(
        tmp_path / "consumer.log", *CONSUMERS[shape], "-v", "2",
        env={**env, "DJQUEUE_LEASE": "3"},
    )  # fmt: skip
    try:
        wait_until(lambda: Run.objects.count() >= 20, 60, "the first runs", proc)
        start = len(proc.log())
        proxy.cut()
        wait_until(
            lambda: "retrying with backoff" in proc.log()[start:]
            or "(try 3)" in proc.log()[start:],
            60, "the consumer to meet the cut", proc,
        )  # fmt: skip
        proxy.restore()
        wait_until(lambda: all(r.ready() for r in results), 120, "every message", proc)
        assert proc.process.poll() is None, "the consumer exited"
        proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        proc.stop()
    assert {r.status for r in results} == {State.DONE}
    assert set(Run.objects.values_list("message_id", flat=True)) == {
        r.id for r in results
    }
