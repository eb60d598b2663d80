"""What is particular to RedisQueue on a Redis Cluster: the cluster form of
``CONNECTION``, its client, and queues that each live on one slot.

The contract suite and the Redis tests that need a real server run on the
cluster too (their ``redis-cluster`` parameter); the failover of a master
mid-drain is in ``test_redis_cluster_failover``.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from djqueue.backends.inspection import ConsumerInfo
from djqueue.backends.redis import RedisQueue
from djqueue.backends.redis.connection import connection_kwargs
from djqueue.checks import check_settings
from djqueue.states import State

from .admin_helpers import admin_url, staff_user
from .factories import make_message
from .redis_cluster import PREFIX

pytestmark = pytest.mark.on_redis


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
            {"cluster_nodes": [("10.0.0.1", 7000), ("10.0.0.2", 7001)]},
        ),
        (
            " redis+cluster://node-a:7000/ ",
            {"cluster_nodes": [("node-a", 7000)]},
        ),
        (
            "rediss+cluster://app:p%40ss@node-a:7000,[::1]:7001/0",
            {
                "username": "app",
                "password": "p@ss",
                "ssl": True,
                "cluster_nodes": [("node-a", 7000), ("::1", 7001)],
            },
        ),
        (
            "redis+cluster://:secret@node-a:7000",
            {"password": "secret", "cluster_nodes": [("node-a", 7000)]},
        ),
        (
            {"cluster_nodes": [["node-a", 7000]], "socket_timeout": 5},
            {"cluster_nodes": [("node-a", 7000)], "socket_timeout": 5},
        ),
    ],
)
def test_cluster_connection_forms(setting, expected):
    assert connection_kwargs(setting) == expected


def test_a_good_cluster_form_passes_the_checks():
    queues = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": "redis+cluster://127.0.0.1:7000",
        }
    }
    with override_settings(QUEUES=queues):
        assert check_settings() == []


def test_the_cluster_form_builds_a_cluster_client_with_the_plain_defaults(
    redis_cluster,
):
    from redis.cluster import RedisCluster

    queue = RedisQueue("named", redis_cluster.url, PREFIX=PREFIX)
    try:
        client = queue.client
        assert isinstance(client, RedisCluster)
        master = client.get_node_from_key(queue.base)
        name = client.client_getname(target_nodes=master)
        assert name in ("djqueue-djqueue-test", b"djqueue-djqueue-test")
        options = client.nodes_manager.connection_kwargs
        assert (options["socket_timeout"], options["socket_connect_timeout"]) == (
            30,
            5,
        )
        assert client.retry.get_retries() == 3
        # One blocking call waits under the reply timeout.
        assert queue._block_slice() == 10.0
    finally:
        queue.close()


def test_the_admin_reads_a_cluster_queue_through_a_bounded_twin(redis_cluster):
    """The inspection twin is a cluster client too, waiting at most
    ``INSPECT_TIMEOUT`` seconds and retrying nothing."""
    from redis.cluster import RedisCluster

    queue = RedisQueue(
        "inspected", redis_cluster.url, PREFIX=PREFIX, INSPECT_TIMEOUT=1.5
    )
    try:
        twin = queue.for_inspection()
        assert twin is not queue
        assert isinstance(twin.client, RedisCluster)
        options = twin.client.nodes_manager.connection_kwargs
        assert (options["socket_timeout"], options["socket_connect_timeout"]) == (
            1.5,
            1.5,
        )
        assert twin.client.retry.get_retries() == 0
        queue.write(make_message(queue=queue.name))
        assert twin.counts()[State.QUEUED] == 1
    finally:
        queue.flush()
        queue.close()


def test_a_client_factory_gets_the_cluster_form_as_keyword_arguments():
    received = {}

    def factory(**kwargs):
        received.update(kwargs)
        return object()

    queue = RedisQueue(
        "factory", "rediss+cluster://node-a:7000,node-b:7001", CLIENT_FACTORY=factory
    )
    assert queue.client is not None
    assert received == {
        "ssl": True,
        "cluster_nodes": [("node-a", 7000), ("node-b", 7001)],
    }


def _queue_settings(url: str, names: list[str], prefix: str) -> dict:
    return {
        name: {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": url,
            "OPTIONS": {"PREFIX": prefix},
        }
        for name in names
    }


@pytest.mark.django_db
def test_queues_spread_over_masters_and_queue_info_and_the_admin_see_each(
    redis_cluster, client, django_user_model
):
    """Six queues land on more than one master (each on its slot's: the
    prefix is fixed, so are the slots); ``queue_info`` and the admin's
    overview report each queue's own count."""
    from djqueue import get_queue

    prefix = "spread"
    names = [f"q{number}" for number in range(6)]
    with override_settings(QUEUES=_queue_settings(redis_cluster.url, names, prefix)):
        queues = [get_queue(name) for name in names]
        try:
            masters = {redis_cluster.master_of(queue.base).port for queue in queues}
            assert len(masters) > 1, "six queues all on one master"
            for number, queue in enumerate(queues):
                queue.write_many(
                    [make_message(queue=queue.name) for _ in range(number + 1)]
                )
            out = StringIO()
            call_command("queue_info", "--json", stdout=out)
            queued = {
                summary["queue"]: summary["counts"]["queued"]
                for summary in json.loads(out.getvalue())
            }
            assert queued == {name: number + 1 for number, name in enumerate(names)}
            client.force_login(staff_user(django_user_model, "viewer", "view_message"))
            response = client.get(admin_url("changelist"))
            assert response.status_code == 200
            shown = {
                card.name: card.summary.counts[State.QUEUED]
                for card in response.context["cards"]
            }
            assert shown == queued
        finally:
            for queue in queues:
                queue.flush()


def _keys_of_prefix(redis_cluster, prefix: str) -> list[str]:
    """Every key starting with ``prefix`` on every master, by SCAN."""
    from redis.cluster import RedisCluster

    client = RedisCluster.from_url(
        redis_cluster.url.replace("redis+cluster", "redis", 1).split(",")[0]
    )
    try:
        return sorted(
            key.decode()
            for key in client.scan_iter(
                match=f"{{{prefix}:*", count=1000, target_nodes=RedisCluster.PRIMARIES
            )
        )
    finally:
        client.close()


def test_every_key_a_queue_writes_is_under_its_hash_tag_in_its_slot(redis_cluster):
    """Messages, unique and lock keys, wake-up lists, consumers, statistics
    and ticks: every key the queue's programs and pipelines made is in the
    queue's slot, on the master that owns it."""
    prefix = f"slot-{uuid.uuid4().hex[:8]}"
    queue = RedisQueue("all-keys", redis_cluster.url, PREFIX=prefix)
    try:
        now = timezone.now()
        unique = make_message(queue=queue.name)
        unique.unique_key = "one-report"
        assert queue.write_unique(unique) == unique.id
        locked = make_message(queue=queue.name, priority=9)
        locked.lock_key = "account-7"
        queue.write(locked)
        later = make_message(queue=queue.name, eta=now + timedelta(hours=1))
        later.unique_key = "tomorrow-report"
        assert queue.write_unique(later) == later.id
        assert queue.write_tick(make_message(queue=queue.name), "tests.tick", now)
        [running] = queue.claim("w", 30, limit=1)
        assert running.id == locked.id
        queue.wait(unique.id, timeout=0.01)
        info = ConsumerInfo(
            id="host:1", host="host", pid=1, queues=(queue.name,), concurrency=1,
            worker_type="thread", started_at=now, heartbeat_at=now,
        )  # fmt: skip
        queue.register_consumer(info, ttl=30)
        queue.record_runs({("tests.command", State.DONE): 1})
        [done] = queue.claim("w", 30, limit=1)
        assert queue.ack(done, result="r", result_ttl=60)

        keys = _keys_of_prefix(redis_cluster, prefix)
        suffixes = {key.removeprefix(queue.base + ":").split(":")[0] for key in keys}
        assert {"m", "u", "l", "ready", "running", "done", "scheduled"} <= suffixes
        assert {"notify", "w", "consumers", "runs", "ticks", "expiry"} <= suffixes
        slot = queue.client.keyslot(queue.base)
        assert all(key.startswith(queue.base + ":") for key in keys)
        assert {queue.client.keyslot(key) for key in keys} == {slot}
        master = redis_cluster.master_of(queue.base)
        assert int(master.cli("cluster", "countkeysinslot", str(slot))) == len(keys)
    finally:
        queue.flush()
        queue.close()


def _name_in_the_same_slot(client, prefix: str, base: str) -> str:
    slot = client.keyslot(base)
    for number in range(200_000):
        if client.keyslot(f"{{{prefix}:n{number}}}") == slot:
            return f"n{number}"
    raise AssertionError(f"no name of 200000 shares slot {slot}")


def test_flush_deletes_the_queue_and_not_another_queue_of_its_slot(
    redis_cluster, monkeypatch
):
    """flush() reads the queue's slot; it never scans every node's keys."""
    prefix = f"flush-{uuid.uuid4().hex[:8]}"
    queue = RedisQueue("flushed", redis_cluster.url, PREFIX=prefix)
    neighbour_name = _name_in_the_same_slot(queue.client, prefix, queue.base)
    neighbour = RedisQueue(neighbour_name, redis_cluster.url, PREFIX=prefix)
    try:
        queue.write_many([make_message(queue=queue.name) for _ in range(30)])
        neighbour.write_many([make_message(queue=neighbour.name) for _ in range(3)])

        def no_scan(*args, **kwargs):
            raise AssertionError("flush() scanned the keyspace")

        monkeypatch.setattr(queue.client, "scan_iter", no_scan)
        queue.flush()
        monkeypatch.undo()

        assert _keys_of_prefix(redis_cluster, f"{prefix}:flushed}}") == []
        assert len(neighbour) == 3
        assert neighbour.counts()[State.QUEUED] == 3
    finally:
        queue.flush()
        neighbour.flush()
        queue.close()
        neighbour.close()


def test_the_monitoring_pipelines_are_transactions_on_the_cluster(redis_cluster):
    """redis-py's cluster pipeline sends ``transaction=True`` as MULTI/EXEC
    to the slot's master, as the plain client does."""
    import redis

    queue = RedisQueue("transactions", redis_cluster.url, PREFIX=PREFIX)
    master = redis_cluster.master_of(queue.base)
    watcher = redis.Redis(host="127.0.0.1", port=master.port, socket_timeout=10)
    try:
        with watcher.monitor() as monitor:
            queue.unregister_consumer("host:1")
            queue.record_runs({("tests.command", State.DONE): 2})
            seen = []
            while len([c for c in seen if c == "EXEC"]) < 2:
                seen.append(monitor.next_command()["command"].split(" ")[0])
        assert [c for c in seen if c in ("MULTI", "EXEC")] == ["MULTI", "EXEC"] * 2
        assert seen[seen.index("MULTI") + 1 : seen.index("EXEC")] == [
            "HDEL",
            "ZREM",
        ]
    finally:
        watcher.close()
        queue.flush()
        queue.close()
