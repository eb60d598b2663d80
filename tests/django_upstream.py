"""Support for running Django's own tasks tests against ``DjqueueBackend``.

``scripts/fetch-django-tests`` extracts ``tests/tasks/`` of the installed
Django's source distribution into ``.django-tests/<version>/`` as the package
``django_upstream_tasks``. :func:`load` imports its test modules. The two
backends below give Django's tests what they expect of the built-in backends
they were written for, while every result still goes through a djqueue
queue; the mixins put those queues on each djqueue backend.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import django
import pytest
from django.db import connections

from djqueue.backends.handler import get_queue, queue_names
from djqueue.consumer import Consumer
from djqueue.contrib.tasks.backend import DjqueueBackend
from djqueue.states import State

from .conftest import IN_CI, REDIS_PREFIX, REDIS_URL, reachable

CACHE = Path(__file__).resolve().parent.parent / ".django-tests"
PACKAGE = "django_upstream_tasks"


def load(*modules: str) -> list[ModuleType]:
    """Import the fetched test modules of the installed Django.

    Skip the calling test module when they are not fetched, or fail it
    when ``CI`` is set.
    """
    version = django.get_version()
    root = CACHE / version
    if not (root / PACKAGE).is_dir():
        reason = (
            f"Django {version}'s tasks tests are not fetched into {root}; "
            "run scripts/fetch-django-tests with this virtualenv's python"
        )
        if IN_CI:
            pytest.fail(f"{reason}, and CI requires them.", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return [importlib.import_module(f"{PACKAGE}.{name}") for name in modules]


class InspectableBackend(DjqueueBackend):
    """``DjqueueBackend`` with the helpers of Django's ``DummyBackend`` that
    its tests call: ``results`` and ``clear()``."""

    @property
    def results(self):
        """The result of every stored message, read back from its queue, in
        the order they were enqueued. Async tests read it too, as they read
        ``DummyBackend``'s list: there the queries run in a thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._results()
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(_closing_connections, self._results).result()

    def _results(self):
        messages = [
            message
            for name in queue_names()
            for state in State
            for message in get_queue(name).list_messages(state, limit=1000)
        ]
        return [self.get_result(m.id) for m in sorted(messages, key=lambda m: m.id)]

    def clear(self):
        """Delete every message of every queue (one by one: flush() scans a
        Redis server's whole keyspace, which a shared server makes slow)."""
        for name in queue_names():
            queue = get_queue(name)
            for state in State:
                for message in queue.list_messages(state, limit=1000):
                    queue.delete(message.id)


def _closing_connections(func):
    try:
        return func()
    finally:
        connections.close_all()


class BurstBackend(DjqueueBackend):
    """``DjqueueBackend`` that has run each task when ``enqueue()`` returns,
    as Django's ``ImmediateBackend`` does: the message is stored, a burst
    consumer in this process runs it, and the result is read back."""

    def enqueue(self, task, args, kwargs):
        result = super().enqueue(task, args, kwargs)
        Consumer([task.queue_name], concurrency=1, burst=True).run()
        result.refresh()
        return result


class OnQueues:
    """Run on djqueue's ``default`` queue, a DatabaseQueue; the test case
    empties the database after each test. The fetched package is an
    installed app, as Django's test runner makes each test package one: a
    worker runs only tasks of installed apps."""

    available_apps = ["djqueue", PACKAGE]

    @classmethod
    def queues(cls) -> dict:
        """The ``QUEUES`` setting for one test class."""
        return {"default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"}}


class OnRedisQueue(OnQueues):
    """Run on a RedisQueue under a prefix of its own, emptied after the
    class's tests. No test queries the database: a query would be a bug."""

    pytestmark = pytest.mark.on_redis
    databases = set()

    @classmethod
    def tearDownClass(cls):
        for name in queue_names():
            get_queue(name).flush()
        super().tearDownClass()


class OnFakeRedis(OnRedisQueue):
    """Run on a RedisQueue backed by an in-process fakeredis server."""

    @classmethod
    def queues(cls) -> dict:
        import fakeredis

        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        return _redis_queues(CLIENT=client)


class OnRedis(OnRedisQueue):
    """Run on a RedisQueue on the real server."""

    @classmethod
    def queues(cls) -> dict:
        return _redis_queues()


def _redis_queues(**options) -> dict:
    prefix = f"{REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"
    return {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": REDIS_URL,
            "OPTIONS": {"PREFIX": prefix, **options},
        }
    }


def queue_kinds() -> dict[str, type[OnQueues]]:
    """Return queue kind -> mixin that runs a test class on it.

    RedisQueue on a real server is left out when none answers (the other
    test modules report that as a skip), and fails the run in CI.
    """
    kinds = {"DatabaseQueue": OnQueues, "FakeRedisQueue": OnFakeRedis}
    address = urlsplit(REDIS_URL)
    host, port = address.hostname or "127.0.0.1", address.port or 6379
    if reachable(host, port):
        kinds["RedisQueue"] = OnRedis
    elif IN_CI:
        pytest.fail(
            f"Redis is not reachable at {host}:{port}, and CI requires it.",
            pytrace=False,
        )
    return kinds
