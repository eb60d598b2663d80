"""Fixtures shared by the test modules.

``queue`` is the fixture the contract suite runs on: one parameter per
backend and server. Servers that are not reachable skip their parameter,
unless ``CI`` is set, where an unreachable server fails the run.

The Redis side of a test (a parameter of :data:`REDIS_PARAMETERS`, or the
``on_redis`` mark) and its memory side (``MemoryQueue``) do not depend on
the database, so ``./scripts/test``
runs them in its first database run only: ``DJQUEUE_TEST_REDIS=0`` leaves them
out of the others. So it does with the admin's pages (the ``tests/test_admin_*``
modules and the browser tests, marked ``admin_pages``): they read every
backend through the inspection API, whose database side the contract suite
holds on each database; ``DJQUEUE_TEST_ADMIN=0`` leaves them out.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from djqueue.backends.database import DatabaseQueue
from djqueue.backends.memory import MemoryQueue
from djqueue.backends.redis import RedisQueue

from .redis_cluster import redis_cluster, redis_cluster_backend, redis_cluster_queue
from .redis_sentinel import sentinel_deployment, sentinel_queue

__all__ = ["redis_cluster", "sentinel_deployment"]  # fixtures

IN_CI = bool(os.environ.get("CI"))

#: Parameter values that put a test on Redis.
REDIS_PARAMETERS = frozenset({"fakeredis", "redis", "redis-sentinel", "redis-cluster"})
#: Parameter values whose store is not the database: the Redis side and the
#: memory backend, run in the first database run of ./scripts/test only.
OFF_DATABASE_PARAMETERS = REDIS_PARAMETERS | {"memory"}

#: False where ``DJQUEUE_TEST_REDIS=0``: a later database run of
#: ``./scripts/test``, whose first run has covered the Redis side.
REDIS_SIDE_RUNS_HERE = os.environ.get("DJQUEUE_TEST_REDIS", "1") != "0"
#: False where ``DJQUEUE_TEST_ADMIN=0``: a later database run of
#: ``./scripts/test``, whose first run has covered the admin's pages.
ADMIN_PAGES_RUN_HERE = os.environ.get("DJQUEUE_TEST_ADMIN", "1") != "0"


def _is_on_redis(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    parameters = callspec.params.values() if callspec is not None else ()
    return item.get_closest_marker("on_redis") is not None or any(
        isinstance(value, str) and value in OFF_DATABASE_PARAMETERS
        for value in parameters
    )


def _is_admin_page(item: pytest.Item) -> bool:
    return item.path.name.startswith("test_admin_") or (
        item.get_closest_marker("browser") is not None
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Mark the Redis side of every test ``on_redis`` and the admin's pages
    ``admin_pages``; leave them out where :data:`REDIS_SIDE_RUNS_HERE` or
    :data:`ADMIN_PAGES_RUN_HERE` is false (pytest counts them as
    deselected)."""
    left_out = []
    for item in items:
        on_redis, admin_page = _is_on_redis(item), _is_admin_page(item)
        if on_redis:
            item.add_marker("on_redis")
        if admin_page:
            item.add_marker("admin_pages")
        if (on_redis and not REDIS_SIDE_RUNS_HERE) or (
            admin_page and not ADMIN_PAGES_RUN_HERE
        ):
            left_out.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        dropped = set(map(id, left_out))
        items[:] = [item for item in items if id(item) not in dropped]


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    if not REDIS_SIDE_RUNS_HERE:
        lines.append(
            "DJQUEUE_TEST_REDIS=0: the Redis side of the tests is left out "
            "(./scripts/test runs it in its first database run)"
        )
    if not ADMIN_PAGES_RUN_HERE:
        lines.append(
            "DJQUEUE_TEST_ADMIN=0: the admin's pages are left out "
            "(./scripts/test runs them in its first database run)"
        )
    return lines


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


def _memory_queue(request) -> MemoryQueue:
    return MemoryQueue(f"contract-{uuid.uuid4().hex[:8]}")


#: Backend name -> factory(request) returning a fresh, empty queue.
QUEUE_FACTORIES = {
    "database": _database_queue,
    "memory": _memory_queue,
    "fakeredis": _fakeredis_queue,
    "redis": _redis_queue,
    "redis-sentinel": sentinel_queue,
    "redis-cluster": redis_cluster_queue,
}


@pytest.fixture(scope="session", autouse=True)
def database_features_known(django_db_setup, django_db_blocker):
    """Learn each test database's features once, before any test runs.

    On Django 6 the system checks ask every database (the test settings'
    ``queue`` alias too) whether it supports JSON fields, which SQLite
    answers by running a query the first time it is asked. Inside a test
    allowed only ``default``, that query on ``queue`` fails the test."""
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            connections[alias].features.supports_json_field  # noqa: B018


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
    from djqueue.backends.handler import reset_queues

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


def _use_memory(settings) -> None:
    """Point the default queue at a ``MemoryQueue`` of its own connection,
    so no test sees another's messages."""
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.memory.MemoryQueue",
            "CONNECTION": f"test-{uuid.uuid4().hex[:8]}",
        }
    }


def _backend_fixture(request, settings):
    if request.param == "database":
        yield {}
        return
    if request.param == "memory":
        _use_memory(settings)
        # What a run_queue process would be told; none can see the queue.
        yield {"DJQUEUE_BACKEND": "memory"}
        from djqueue import get_queue

        get_queue().flush()
        return
    if request.param == "redis-cluster":
        yield from redis_cluster_backend(request, settings, REDIS_PREFIX)
        return
    yield _use_redis(settings, fake=request.param == "fakeredis")
    from djqueue import get_queue

    get_queue().flush()


@pytest.fixture(params=["database", "fakeredis", "memory", "redis"])
def backend(request, settings):
    """The default queue on each backend, configured in this process; yields
    the environment a run_queue process needs to share it (none can share
    a ``MemoryQueue``: its tests stay in this process)."""
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
