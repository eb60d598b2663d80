"""RedisQueue on a Redis run by Sentinel: the CONNECTION forms, the bounds
of its client, and a failover while consumers drain the queue."""

import signal
import time

import pytest

from djqueue import State, get_queue
from djqueue.backends.redis import RedisQueue
from djqueue.backends.redis.connection import connection_kwargs
from djqueue.consumer.consumer import DEFAULT_PREFETCH
from testproject.demo import commands
from testproject.demo.models import Run

from .dead_servers import SilentServer, refused_port
from .processes import ConsumerProcess, lost_and_repeated, wait_until
from .redis_sentinel import SentinelDeployment, need_redis_server, use_sentinel

pytestmark = pytest.mark.on_redis

LOCAL = [("127.0.0.1", 26379)]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            "redis+sentinel://127.0.0.1:26379/mymaster",
            {"sentinels": LOCAL, "service_name": "mymaster", "db": 0},
        ),
        (
            "redis+sentinel://a:1,b,[::1]:3/mymaster/2/",
            {
                "sentinels": [("a", 1), ("b", 26379), ("::1", 3)],
                "service_name": "mymaster",
                "db": 2,
            },
        ),
        (
            "rediss+sentinel://user:p%40ss@s1:26380/queues/1"
            "?socket_timeout=2.5&socket_connect_timeout=1",
            {
                "sentinels": [("s1", 26380)],
                "service_name": "queues",
                "db": 1,
                "username": "user",
                "password": "p@ss",
                "socket_timeout": 2.5,
                "socket_connect_timeout": 1.0,
                "ssl": True,
                "sentinel_kwargs": {"ssl": True},
            },
        ),
        (
            {
                "sentinels": [["s1", 26379], "s2:26380"],
                "service_name": "mymaster",
                "sentinel_kwargs": {"password": "sentinel-secret"},
                "password": "master-secret",
            },
            {
                "sentinels": [("s1", 26379), ("s2", 26380)],
                "service_name": "mymaster",
                "db": 0,
                "sentinel_kwargs": {"password": "sentinel-secret"},
                "password": "master-secret",
            },
        ),
    ],
)
def test_sentinel_connection_forms(setting, expected):
    assert connection_kwargs(setting) == expected


def test_the_client_asks_the_sentinels_and_waits_under_its_socket_timeout():
    """Nothing connects until a call; a blocking wait stays under the
    socket timeout of the master's connections; the sentinels are asked
    with the connect timeout, once each: the next sentinel is the retry."""
    queue = RedisQueue(
        "emails",
        "redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/3?socket_timeout=4"
        "&socket_connect_timeout=1.5",
        PREFIX="site",
    )
    pool = queue.client.connection_pool
    assert pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["client_name"] == "djqueue-site"
    assert pool.connection_kwargs["retry"].get_retries() == 3
    assert queue._block_slice() == 3.0
    asked = [
        s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels
    ]
    assert [(a["port"], a["socket_timeout"]) for a in asked] == [(1, 1.5), (2, 1.5)]
    assert {a["retry"].get_retries() for a in asked} == {0}
    queue.close()


def test_sentinels_that_do_not_answer_bound_an_inspection_read():
    """One sentinel accepts and never answers, the other refuses: a read of
    the admin's (its inspection twin) fails after INSPECT_TIMEOUT for each,
    with no retry, and says no master was found."""
    import redis
    from redis.sentinel import MasterNotFoundError

    silent = SilentServer()
    try:
        url = f"redis+sentinel://127.0.0.1:{silent.port},127.0.0.1:{refused_port()}/m"
        queue = RedisQueue("emails", url, INSPECT_TIMEOUT=0.3)
        twin = queue.for_inspection()
        with pytest.raises(redis.ConnectionError) as raised:
            twin.counts()
        assert isinstance(raised.value, MasterNotFoundError)
        assert len(silent.accepted) == 1
        queue.close()
    finally:
        silent.stop()


def test_a_connection_reopened_at_a_stale_address_asks_the_sentinels(
    sentinel_deployment,
):
    """A command that retries reopens its connection; after a failover the
    address it had is the old master's. It asks the sentinels instead."""
    queue = RedisQueue("emails", sentinel_deployment.url)
    pool = queue.client.connection_pool
    connection = pool.get_connection()
    try:
        connection.disconnect()
        connection.port = refused_port()
        connection.send_command("PING")
        assert connection.read_response() == b"PONG"
        assert ("127.0.0.1", connection.port) == sentinel_deployment.master_address()
    finally:
        pool.release(connection)
        queue.close()


#: Messages enqueued before the failover, and how many must have run when the
#: master fails.
FAILOVER_MESSAGES = 800
RUNS_BEFORE_THE_FAULT = 200
#: The consumers that drain them: processes of four threads each.
CONSUMERS = 2
#: How the master fails, and the query string of the consumers' CONNECTION:
#: a master that hangs holds each call until the socket timeout.
FAULTS = {"killed": "", "hung": "?socket_timeout=3"}


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_failover_mid_drain_runs_everything_replicated(settings, tmp_path, fault):
    """The master is SIGKILLed (or SIGSTOPped: it hangs) while two consumers
    drain the queue, and the sentinels promote the replica. Every message
    the replica had runs at least once; none it had as done runs again; the
    duplicates are at most what the consumers held; the same consumer
    processes go on on the new master; the old master, started again as
    its replica, syncs from it and the new master's data stays."""
    need_redis_server()
    deployment = SentinelDeployment(tmp_path / "sentinel")
    deployment.start()
    consumers: list[ConsumerProcess] = []
    try:
        env = use_sentinel(settings, deployment, FAULTS[fault])
        env["DJQUEUE_LEASE"] = "2"  # messages of the old master's come back soon
        queue = get_queue()
        results = commands.record_run.map([("failover",)] * FAILOVER_MESSAGES)
        replica = deployment.replica.client()
        assert queue.client.wait(1, 5000) == 1
        assert replica.zcard(queue.key("ready")) == FAILOVER_MESSAGES

        consumers = [
            ConsumerProcess(tmp_path / f"consumer-{n}.log", "-c", "4", env=env)
            for n in range(CONSUMERS)
        ]
        wait_until(
            lambda: Run.objects.count() >= RUNS_BEFORE_THE_FAULT,
            60,
            "the first runs",
            *consumers,
        )
        if fault == "killed":
            deployment.master.kill()
        else:
            deployment.master.freeze()
        failed_at = time.monotonic()
        _wait_until_settled(replica)
        done_at_fault = set(replica.zrange(queue.key("done"), 0, -1))
        running_at_fault = replica.zcard(queue.key("running"))
        sha = queue._script("claim").sha
        assert replica.script_exists(sha) == [False]  # NOSCRIPT lies ahead

        promoted_at = resumed_at = None
        deadline = failed_at + 60
        while resumed_at is None:
            now = time.monotonic()
            assert now < deadline, f"no run on the new master\n{deployment.logs()}"
            if promoted_at is None:
                if deployment.master_address() == (
                    "127.0.0.1",
                    deployment.replica.port,
                ):
                    promoted_at = now
            elif replica.zcard(queue.key("done")) > len(done_at_fault):
                resumed_at = now
            time.sleep(0.05)

        wait_until(
            lambda: queue.counts()[State.DONE] == FAILOVER_MESSAGES,
            60,
            "every message done on the new master",
            *consumers,
        )
        assert all(c.process.poll() is None for c in consumers), "a consumer exited"

        deployment.master.kill()  # a hung one too: it must not answer as master
        deployment.restart_as_replica(deployment.master, of=deployment.replica)
        wait_until(
            lambda: _replica_of(deployment.master, deployment.replica.port),
            30,
            "the old master to come back as a replica",
        )
        assert deployment.master_address() == ("127.0.0.1", deployment.replica.port)
        assert queue.counts()[State.DONE] == FAILOVER_MESSAGES
        for consumer in consumers:
            consumer.signal(signal.SIGTERM)
        assert [c.wait(30) for c in consumers] == [0] * CONSUMERS
    finally:
        for consumer in consumers:
            consumer.stop()
        deployment.stop()

    lost, twice = lost_and_repeated(results)
    print(
        f"\nfailover mid-drain, master {fault}: lost {len(lost)}, "
        f"run twice {len(twice)}, done before the fault {len(done_at_fault)}, "
        f"running {running_at_fault}, promoted after "
        f"{promoted_at - failed_at:.2f}s, runs resumed after "
        f"{resumed_at - failed_at:.2f}s"
    )
    assert not lost
    assert not twice & done_at_fault
    # What a consumer holds: its threads' runs and its prefetch, and one
    # batch of acknowledgements not yet stored (as many again).
    assert len(twice) <= CONSUMERS * 2 * (4 + DEFAULT_PREFETCH)
    pids = set(Run.objects.values_list("pid", flat=True))
    assert pids <= {c.pid for c in consumers}  # the consumers went on


def _wait_until_settled(replica, timeout: float = 10.0) -> None:
    """Wait until the replica's replication offset stays put for 0.2 s: it
    has applied all its failed master sent it (which sends no more)."""
    deadline = time.monotonic() + timeout
    offset = replica.info("replication")["master_repl_offset"]
    while True:
        time.sleep(0.2)
        latest = replica.info("replication")["master_repl_offset"]
        if latest == offset:
            return
        assert time.monotonic() < deadline, "the replica's offset kept moving"
        offset = latest


def _replica_of(server, master_port: int) -> bool:
    replication = server.client().info("replication")
    return (
        replication["role"] == "slave"
        and replication["master_port"] == master_port
        and replication["master_link_status"] == "up"
    )
