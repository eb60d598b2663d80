"""What is particular to RedisQueue: connections, garbage in its keys,
deferred writes, blocking waits, and a server restart mid-run."""

import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.backends.redis import RedisQueue
from djqueue.backends.redis.connection import connection_kwargs
from djqueue.checks import check_settings
from djqueue.consumer import Consumer
from djqueue.envelope.message import new_message_id
from testproject.demo import commands
from testproject.demo.models import Run

from .conftest import IN_CI, REDIS_PREFIX
from .factories import make_message
from .processes import ConsumerProcess, wait_until

# Nothing here depends on the database: one database run covers it.
pytestmark = pytest.mark.on_redis


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", {"url": "redis://127.0.0.1:6379/0"}),
        ("10.0.0.75:6379:2", {"host": "10.0.0.75", "port": 6379, "db": 2}),
        ("cache-host", {"host": "cache-host", "port": 6379, "db": 0}),
        ("redis_1:6380", {"host": "redis_1", "port": 6380, "db": 0}),
        ("rediss://:pw@host:6380/1", {"url": "rediss://:pw@host:6380/1"}),
        ("unix:///run/redis.sock?db=3", {"url": "unix:///run/redis.sock?db=3"}),
        ({"host": "h", "ssl": True}, {"host": "h", "ssl": True}),
    ],
)
def test_connection_forms(setting, expected):
    assert connection_kwargs(setting) == expected


LOCAL_SENTINEL = [("127.0.0.1", 26379)]
#: CONNECTION forms of a cluster or of Sentinel that djqueue.E021 rejects.
BAD_CLUSTER_FORMS = [
    "redis+cluster://",
    "redis+cluster://node-a",
    "redis+cluster://node-a:7000,",
    "redis+cluster://node-a:port",
    "redis+cluster://node-a:7000/2",
    "redis+cluster://node-a:7000?ssl_cert_reqs=none",
    {"cluster_nodes": []},
    {"cluster_nodes": "node-a:7000"},
    {"cluster_nodes": [("node-a", "7000")]},
    {"cluster_nodes": [("node-a", 7000)], "db": 1},
]
BAD_SENTINEL_FORMS = [
    "redis+sentinel://127.0.0.1:26379",
    "redis+sentinel://127.0.0.1:26379/",
    "redis+sentinel:///mymaster",
    "redis+sentinel://127.0.0.1:port/mymaster",
    "redis+sentinel://127.0.0.1:26379/mymaster/zero",
    "redis+sentinel://127.0.0.1:26379/mymaster/0/extra",
    "redis+sentinel://127.0.0.1:26379/mymaster?db=1",
    "redis+sentinel://127.0.0.1:26379/mymaster?socket_timeout=-1",
    {"sentinels": [], "service_name": "mymaster"},
    {"sentinels": "127.0.0.1:26379", "service_name": "mymaster"},
    {"sentinels": [("127.0.0.1", "26379")], "service_name": "mymaster"},
    {"sentinels": LOCAL_SENTINEL},
    {"sentinels": LOCAL_SENTINEL, "service_name": "mymaster", "db": "0"},
    {"sentinels": LOCAL_SENTINEL, "service_name": "mymaster", "host": "10.0.0.1"},
    {"sentinels": LOCAL_SENTINEL, "service_name": "mymaster", "sentinel_kwargs": 1},
]


@pytest.mark.parametrize(
    "setting",
    [
        "host:port:db",
        "http://host",
        "redis//oops",
        6379,
        *BAD_CLUSTER_FORMS,
        *BAD_SENTINEL_FORMS,
    ],
)
def test_bad_connections_are_reported_by_checks_whose_hint_names_every_form(
    setting,
):
    queues = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": setting,
        }
    }
    with override_settings(QUEUES=queues):
        errors = check_settings()
    assert [e.id for e in errors] == ["djqueue.E021"]
    for form in ("redis://", "redis+cluster://", "cluster_nodes", "redis+sentinel://"):
        assert form in errors[0].hint


def test_missing_redis_py_is_a_check_error_with_the_install_command(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "redis", None)
    queues = {"default": {"BACKEND": "djqueue.backends.redis.RedisQueue"}}
    with override_settings(QUEUES=queues):
        errors = check_settings()
    assert [e.id for e in errors] == ["djqueue.E020"]
    assert "pip install 'djqueue[redis]'" in errors[0].hint


def test_keys_of_a_queue_share_one_cluster_hash_tag():
    queue = RedisQueue("emails", "", PREFIX="site")
    assert queue.key("ready") == "{site:emails}:ready"
    assert queue.key("m:abc").startswith("{site:emails}")


redis_only = pytest.mark.parametrize(
    "backend", ["fakeredis", "redis", "redis-cluster"], indirect=True
)


@redis_only
@pytest.mark.django_db(transaction=True)
def test_garbage_in_the_keys_ends_in_failed_and_the_consumer_goes_on(backend):
    queue = get_queue()
    client = queue.client
    client.zadd(queue.key("ready"), {"no-such-body": 0})
    client.zadd(queue.key("scheduled"), {"no-body-either": 0})
    client.hset(
        queue.key("m:bytes"), mapping={"id": "bytes", "payload": b"\xff\xfe\x00junk"}
    )
    client.zadd(queue.key("ready"), {"bytes": 1})
    client.hset(
        queue.key("m:fields"),
        mapping={"id": "fields", "attempts": "many", "eta": "soon"},
    )
    client.zadd(queue.key("ready"), {"fields": 2})
    for number, options in enumerate(["{{{", "[1, 2]", '+{"retries": []}']):
        client.hset(
            queue.key(f"m:options-{number}"),
            mapping={"payload": "[[], {}]", "options": options},
        )
        client.zadd(queue.key("ready"), {f"options-{number}": 3})
    good = commands.add(1, 2)

    Consumer(["default"], 1, burst=True).run()

    assert good.get(timeout=0) == 3
    failed = {m.id: m.error for m in queue.list_messages(State.FAILED)}
    assert "no message body is stored" in failed["no-such-body"]
    assert "no message body is stored" in failed["no-body-either"]
    assert "signature does not match" in failed["bytes"]
    assert "signature does not match" in failed["fields"]
    for number in range(3):
        assert "signature does not match" in failed[f"options-{number}"]
    assert queue.counts()[State.QUEUED] == 0


@redis_only
@pytest.mark.django_db(transaction=True)
def test_writes_inside_a_transaction_wait_for_the_commit(backend):
    queue = get_queue()
    with transaction.atomic():
        kept = commands.add(1, 1)
        assert kept.id
        assert queue.get(kept.id) is None
    assert queue.get(kept.id).state == State.QUEUED

    def roll_back():
        with transaction.atomic():
            commands.add(2, 2)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        roll_back()
    assert len(queue) == 1


@redis_only
@pytest.mark.django_db(transaction=True)
def test_on_commit_false_writes_at_once(backend, settings):
    settings.QUEUES = {
        "default": {
            **settings.QUEUES["default"],
            "OPTIONS": {**settings.QUEUES["default"]["OPTIONS"], "ON_COMMIT": False},
        }
    }
    with transaction.atomic():
        result = commands.add(1, 1)
        assert get_queue().get(result.id).state == State.QUEUED


#: fakeredis answers blocking commands at once instead of blocking, so a
#: wake-up can only be tested on a real server.
real_redis_only = pytest.mark.parametrize(
    "backend", ["redis", "redis-cluster"], indirect=True
)

#: Longer than any bounded wait below: a waiter that is not woken is seen
#: still blocked, never as a late success.
NEVER = 120


def _blocking_calls(queue, name):
    """Count the calls of the client's blocking command ``name``, made once
    the waiter found nothing and is about to block on the wake-up key."""
    client, blocked = queue.client, threading.Condition()
    blocked.count = 0
    real = getattr(client, name)

    def counted(*args, **kwargs):
        with blocked:
            blocked.count += 1
            blocked.notify_all()
        return real(*args, **kwargs)

    setattr(client, name, counted)
    return blocked


@real_redis_only
def test_a_blocked_claim_wakes_when_a_message_is_written(backend):
    """The claim found nothing and blocks; only the write's wake-up can end
    it before its timeout."""
    queue = get_queue()
    # The wait and the claim behind it go out in one pipeline.
    blocked = _blocking_calls(queue, "pipeline")
    claimed = []
    waiter = threading.Thread(
        target=lambda: claimed.extend(queue.claim("w", 30, limit=1, timeout=NEVER)),
        daemon=True,
    )
    waiter.start()
    with blocked:
        assert blocked.wait_for(lambda: blocked.count == 1, timeout=10)
    message = make_message(queue="default")
    queue.write(message)
    wait_until(lambda: not waiter.is_alive(), 20, "the claim to wake")
    assert [m.id for m in claimed] == [message.id]


@real_redis_only
def test_result_waiters_are_all_woken_by_the_ack(backend, monkeypatch):
    """Three waiters block on the result (in one slice longer than the test
    may take); the ack alone wakes all three."""
    queue = get_queue()
    monkeypatch.setattr(queue, "_block_slice", lambda: NEVER)
    message = make_message(queue="default")
    queue.write(message)
    blocked = _blocking_calls(queue, "blmove")
    seen = []
    waiters = [
        threading.Thread(
            target=lambda: seen.append(queue.wait(message.id, timeout=NEVER)),
            daemon=True,
        )
        for _ in range(3)
    ]
    for thread in waiters:
        thread.start()
    with blocked:
        assert blocked.wait_for(lambda: blocked.count == 3, timeout=10)
    queue.ack(queue.read(lease_seconds=30), result="r", result_ttl=60)
    wait_until(
        lambda: not any(t.is_alive() for t in waiters), 20, "the waiters to wake"
    )
    assert [m.state for m in seen] == [State.DONE] * 3


def _spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own, on a spare loopback port, with an
    append-only file synced on every write."""

    def __init__(self, directory):
        self.port = _spare_port()
        self.directory = directory
        self.process = None

    def start(self):
        options = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.directory),
            "appendonly": "yes",
            "appendfsync": "always",
            "save": "",
        }
        arguments = [
            part for key, value in options.items() for part in (f"--{key}", value)
        ]
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), *arguments],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


def need_redis_server():
    """Skip without the redis-server binary (fail in CI, which installs it)."""
    if shutil.which("redis-server") is None:
        reason = "the redis-server binary is not on PATH (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(f"{reason}, and CI requires it.")
        pytest.skip(reason)


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_mid_run_loses_no_acknowledged_message(settings, tmp_path):
    need_redis_server()
    server = RedisServer(tmp_path)
    server.start()
    url = f"redis://127.0.0.1:{server.port}/0"
    prefix = f"{REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": url,
            "OPTIONS": {"PREFIX": prefix},
        }
    }
    env = {
        "DJQUEUE_BACKEND": "redis",
        "DJQUEUE_REDIS_URL": url,
        "DJQUEUE_REDIS_PREFIX": prefix,
    }
    consumer = ConsumerProcess(tmp_path / "consumer.log", "-c", "4", env=env)
    acknowledged = []
    try:
        for round_number in range(2):
            acknowledged += [
                r.id for r in commands.record_run.map([(f"r{round_number}",)] * 300)
            ]
            time.sleep(0.3)
            server.stop()
            time.sleep(3)  # longer than redis-py's own retries
            server.start()
        wait_until(
            lambda: get_queue().counts()[State.DONE] == len(acknowledged),
            120,
            "every acknowledged message done",
            consumer,
        )
        consumer.signal(signal.SIGTERM)
        assert consumer.wait(30) == 0
    finally:
        consumer.stop()
        server.stop()

    runs = Counter(Run.objects.values_list("message_id", flat=True))
    assert set(acknowledged) <= set(runs)
    log = consumer.log()
    assert "retrying with backoff" in log
    assert "answers again" in log


@redis_only
def test_scripts_are_reloaded_after_the_server_forgets_them(backend):
    queue = get_queue()
    queue.write(make_message(queue="default"))
    assert len(queue.claim("w", 30, limit=5)) == 1
    queue.client.script_flush()

    queue.write(make_message(queue="default"))

    assert len(queue.claim("w", 30, limit=5)) == 1


@redis_only
def test_bulk_writes_go_in_batches(backend, monkeypatch):
    monkeypatch.setattr("djqueue.backends.redis.queue.WRITE_BATCH", 7)
    commands.add.map([(i, i) for i in range(30)])
    assert len(get_queue()) == 30


@real_redis_only
@pytest.mark.django_db(transaction=True)
def test_the_hash_of_a_small_call_stays_compact_queued_and_done(backend):
    """Every value of a small call's hash, queued and done with its result,
    fits Redis's default listpack limit, so the hash keeps that encoding."""
    queue = get_queue()
    limit = int(queue.client.config_get("hash-max-listpack-value").get(
        "hash-max-listpack-value", 64
    ))  # fmt: skip
    if limit < 64:
        pytest.skip(f"the server's hash-max-listpack-value is {limit}, below 64")
    handle = commands.add(2, 3)
    key = queue.key(f"m:{handle.id}")
    compact = {b"listpack", b"ziplist"}  # ziplist before Redis 7
    assert queue.client.object("encoding", key) in compact

    Consumer(["default"], 1, burst=True).run()

    assert handle.get(timeout=0) == 5
    assert queue.client.hget(key, "state") == b"done"
    assert queue.client.object("encoding", key) in compact


redis_queues = pytest.mark.parametrize(
    "queue", ["fakeredis", "redis", "redis-cluster"], indirect=True
)


def _keys(queue) -> dict[str, tuple]:
    """Every key of ``queue``, named without its base: its type, its
    content (a lease token only as held or not) and whether it expires."""
    client, found = queue.client, {}
    for key in client.scan_iter(match=f"{queue.base}:*"):
        kind = client.type(key).decode()
        if kind == "hash":
            content = client.hgetall(key)
            content[b"lease_token"] = bool(content.get(b"lease_token"))
        elif kind == "zset":
            content = client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            content = client.lrange(key, 0, -1)
        else:
            content = client.get(key)
        found[key.decode()[len(queue.base) :]] = (kind, content, client.pttl(key) > 0)
    return found


def _acknowledged(queue, ids, now, acknowledge) -> dict[str, tuple]:
    """The keys of ``queue`` once ``acknowledge(queue, acks, now)`` has
    acknowledged messages of lock and unique keys, a suspect, a lost lease
    and one message twice; the same ids and moments on every queue."""
    from djqueue.backends.base import Ack

    made = [
        make_message(message_id=message_id, eta=now, enqueued_at=now)
        for message_id in ids
    ]
    held, following, unique, lost, suspect = made
    held.lock_key = following.lock_key = "k"
    following.eta = now + timedelta(seconds=1)
    unique.unique_key = "u"
    queue.write(suspect)
    queue.claim("dead", 30, now=now)
    assert queue.reclaim_expired(now=now + timedelta(seconds=31)) == 1
    queue.write_many([held, following, lost])
    assert queue.write_unique(unique) == unique.id
    later = now + timedelta(seconds=2)
    leased = {m.id: m for m in queue.claim("w", 30, limit=10, now=later)}
    leased[suspect.id] = queue.claim_suspect("w", 30, now=later)
    assert queue.release([leased[lost.id]]) == 1
    acks = [
        Ack(leased[held.id], "held", 60),
        Ack(leased[unique.id], None, 0),
        Ack(leased[lost.id], "lost", 60),
        Ack(leased[suspect.id], "suspect", 60),
        Ack(leased[held.id], "again", 0),
    ]
    assert acknowledge(queue, acks, later) == [True, True, False, True, False]
    return _keys(queue)


@redis_queues
def test_ack_many_leaves_the_keys_as_acks_one_by_one_do(queue, other_queue):
    """Pointers of lock and unique keys, sets, expiries, the tokens that
    wake consumers and result waiters: the same, key for key."""
    ids, now = [new_message_id() for _ in range(5)], timezone.now()

    one_by_one = _acknowledged(
        queue, ids, now, lambda q, acks, now: [q.ack(*ack, now=now) for ack in acks]
    )
    batched = _acknowledged(
        other_queue, ids, now, lambda q, acks, now: q.ack_many(acks, now=now)
    )

    assert ":l:k" not in batched
    assert ":u:u" not in batched
    assert batched == one_by_one


@redis_queues
def test_ack_many_makes_one_script_call_per_batch(queue, monkeypatch):
    from djqueue.backends.base import Ack

    monkeypatch.setattr("djqueue.backends.redis.leases.ACK_BATCH", 7)
    queue.write_many([make_message() for _ in range(30)])
    claimed = queue.claim("w", 30, limit=30)
    calls = []
    run = queue._run
    monkeypatch.setattr(
        queue, "_run", lambda name, *a: calls.append(name) or run(name, *a)
    )

    assert queue.ack_many([Ack(m, "r", 60) for m in claimed]) == [True] * 30

    assert calls == ["ack_many"] * 5
    assert queue.counts()[State.DONE] == 30
