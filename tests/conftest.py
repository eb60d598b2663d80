"""Fixtures shared by the test modules.

``queue`` is the fixture the contract suite runs on: one parameter per
backend and server. Servers that are not reachable skip their parameter,
unless ``CI`` is set, where an unreachable server fails the run.

The Redis side of a test (a ``fakeredis`` or ``redis`` parameter, or the
``on_redis`` mark) does not depend on the database, so ``./scripts/test``
runs it in its first database run only: ``DJQUEUE_TEST_REDIS=0`` leaves it
out of the others.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from djqueue.backends.database import DatabaseQueue
from djqueue.backends.redis import RedisQueue

IN_CI = bool(os.environ.get("CI"))

#: Parameter values that put a test on Redis.
REDIS_PARAMETERS = frozenset({"fakeredis", "redis"})

#: False where ``DJQUEUE_TEST_REDIS=0``: a later database run of
#: ``./scripts/test``, whose first run has covered the Redis side.
REDIS_SIDE_RUNS_HERE = os.environ.get("DJQUEUE_TEST_REDIS", "1") != "0"


def _is_on_redis(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    parameters = callspec.params.values() if callspec is not None else ()
    return item.get_closest_marker("on_redis") is not None or any(
        isinstance(value, str) and value in REDIS_PARAMETERS for value in parameters
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Mark the Redis side of every test ``on_redis``; leave it out where
    :data:`REDIS_SIDE_RUNS_HERE` is false (pytest counts it as deselected)."""
    on_redis = []
    for item in items:
        if _is_on_redis(item):
            item.add_marker("on_redis")
            on_redis.append(item)
    if on_redis and not REDIS_SIDE_RUNS_HERE:
        config.hook.pytest_deselected(items=on_redis)
        left_out = set(map(id, on_redis))
        items[:] = [item for item in items if id(item) not in left_out]


def pytest_report_header(config: pytest.Config) -> str | None:
    if REDIS_SIDE_RUNS_HERE:
        return None
    return (
        "DJQUEUE_TEST_REDIS=0: the Redis side of the tests is left out "
        "(./scripts/test runs it in its first database run)"
    )


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip (on a laptop) or fail (in CI) when a server is not reachable."""
    if reachable(host, port):
        return
    text = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{text}, and CI requires it.")
    pytest.skip(text)


def _database_queue(request) -> DatabaseQueue:
    return DatabaseQueue(f"contract-{uuid.uuid4().hex[:8]}")


#: A key prefix unique to this test run, so tests never touch other data on
#: a shared Redis server (and never need FLUSHDB).
REDIS_PREFIX = f"djqueue-test-{uuid.uuid4().hex[:12]}"
REDIS_URL = os.environ.get("DJQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _fakeredis_queue(request) -> RedisQueue:
    import fakeredis

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return RedisQueue(
        f"contract-{uuid.uuid4().hex[:8]}", "", PREFIX=REDIS_PREFIX, CLIENT=client
    )


def _redis_queue(request) -> RedisQueue:
    from urllib.parse import urlsplit

    address = urlsplit(REDIS_URL)
    require_server("Redis", address.hostname or "127.0.0.1", address.port or 6379)
    return RedisQueue(
        f"contract-{uuid.uuid4().hex[:8]}", REDIS_URL, PREFIX=REDIS_PREFIX
    )


#: Backend name -> factory(request) returning a fresh, empty queue.
QUEUE_FACTORIES = {
    "database": _database_queue,
    "fakeredis": _fakeredis_queue,
    "redis": _redis_queue,
}


@pytest.fixture(autouse=True)
def fresh_queues():
    """Forget the queues a test built once it is done: a queue (with its
    connections and its PostgreSQL listener) never serves the next test.

    Before, the Redis tests between two database tests changed
    ``settings.QUEUES`` and so did this by the way; with them left out of
    the PostgreSQL run, a ``default`` queue built early served later tests,
    and a burst consumer in ``test_burst`` never ended: every wait on its
    server failed.
    """
    yield
    from djqueue.queues import reset_queues

    reset_queues()


@pytest.fixture(params=sorted(QUEUE_FACTORIES))
def queue(request):
    """A fresh, empty queue on each backend."""
    backend = QUEUE_FACTORIES[request.param](request)
    yield backend
    backend.flush()
    backend.close()


@pytest.fixture
def other_queue(queue, request):
    """A second queue on the same backend and storage as ``queue``."""
    sibling = type(queue)(f"{queue.name}-other", queue.connection, **queue.options)
    if getattr(queue, "_client", None) is not None:
        sibling._client = queue._client
    yield sibling
    sibling.flush()
    sibling.close()


def _use_redis(settings, fake: bool) -> dict[str, str]:
    """Point the default queue at Redis (or an in-process fakeredis) under a
    fresh prefix; return the environment a run_queue process needs."""
    prefix = f"{REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"
    options = {"PREFIX": prefix}
    if fake:
        import fakeredis

        options["CLIENT"] = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    else:
        from urllib.parse import urlsplit

        address = urlsplit(REDIS_URL)
        require_server("Redis", address.hostname or "127.0.0.1", address.port or 6379)
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": REDIS_URL,
            "OPTIONS": options,
        }
    }
    return {
        "DJQUEUE_BACKEND": "redis",
        "DJQUEUE_REDIS_URL": REDIS_URL,
        "DJQUEUE_REDIS_PREFIX": prefix,
    }


def _backend_fixture(request, settings):
    if request.param == "database":
        yield {}
        return
    yield _use_redis(settings, fake=request.param == "fakeredis")
    from djqueue import get_queue

    get_queue().flush()


@pytest.fixture(params=["database", "fakeredis", "redis"])
def backend(request, settings):
    """The default queue on each backend, configured in this process; yields
    the environment a run_queue process needs to share it."""
    yield from _backend_fixture(request, settings)


@pytest.fixture(params=["database", "redis"])
def server_backend(request, settings):
    """Like ``backend``, for the backends run_queue processes can share."""
    yield from _backend_fixture(request, settings)


@pytest.fixture
def start_consumer(transactional_db, server_backend, tmp_path):
    """Start run_queue processes on ``server_backend``; stop them after."""
    from .processes import ConsumerProcess

    started = []

    def start(*args, lease=None, env=None):
        env = {**server_backend, "DJQUEUE_LEASE": str(lease or 30), **(env or {})}
        proc = ConsumerProcess(
            tmp_path / f"consumer-{len(started)}.log", *args, env=env
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
