"""With 100,000 messages in a queue the overview, its live JSON, the first
list page and the first page of a search (by command, argument text or
error text) cost a bounded number of queries or Redis calls (counted,
never timed).

Runs on DatabaseQueue (each database pass) and on a real Redis (the SQLite
pass; fakeredis runs the same client code, ten times slower).
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djqueue import get_queue
from djqueue.admin.forms import PER_PAGE
from djqueue.backends.base import INSPECT_SCAN_LIMIT
from djqueue.envelope.message import new_message_id
from djqueue.states import State

from .admin_helpers import admin_url, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db

MESSAGES = 100_000
#: Database queries a page may make: four for the session, the user and
#: their permissions, then ours (a list counts its states for the tabs; a
#: text search reads where its bound ends, then the matches before it; the
#: overview and every list read the queue's pause).
MAX_QUERIES = {
    "overview": 9,
    "live": 9,
    "list": 7,
    "filtered": 7,
    "argument": 8,
    "error": 8,
    "message": 5,
}
#: Redis round trips (commands, or pipelines) and commands in all. The
#: overview reads the last hour's throughput in one pipeline of 60 HGETALL;
#: a list counts its states in one pipeline of 7 ZCARD; a search is one
#: bounded scan program (and a pipeline to load its matches, if any); the
#: overview and every list read the queue's pause (one GET).
MAX_ROUND_TRIPS = {
    "overview": 5,
    "live": 5,
    "list": 4,
    "filtered": 4,
    "argument": 3,
    "error": 3,
    "message": 1,
}
MAX_COMMANDS = {
    "overview": 70,
    "live": 70,
    "list": PER_PAGE + 10,
    "filtered": PER_PAGE + 10,
    "argument": 9,
    "error": 9,
    "message": 1,
}


def fill(queue, count: int) -> None:
    """Write ``count`` queued messages in batches (ids differ, payload is
    shared: the pages under test never verify it)."""
    template = make_message("tests.bulk", (1,))
    for start in range(0, count, 10_000):
        batch = [
            dataclasses.replace(template, id=new_message_id())
            for _ in range(min(10_000, count - start))
        ]
        queue.write_many(batch)


@dataclasses.dataclass
class RedisCalls:
    round_trips: int = 0
    commands: int = 0


@contextlib.contextmanager
def count_redis_calls(monkeypatch):
    """Count what every Redis client of this process sends: each command
    sent alone, and each pipeline as one round trip of its commands."""
    from redis.client import Pipeline, Redis

    calls = RedisCalls()
    execute_command, execute = Redis.execute_command, Pipeline.execute

    def counted_command(self, *args, **options):
        calls.round_trips += 1
        calls.commands += 1
        return execute_command(self, *args, **options)

    def counted_execute(self, *args, **kwargs):
        calls.round_trips += 1
        calls.commands += len(self.command_stack)
        return execute(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Redis, "execute_command", counted_command)
        patch.setattr(Pipeline, "execute", counted_execute)
        yield calls


def test_pages_stay_bounded_with_100k_messages(
    server_backend, client, django_user_model, monkeypatch
):
    queue = get_queue()
    fill(queue, MESSAGES)
    assert queue.counts()[State.QUEUED] == MESSAGES
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    listing = admin_url("list", "default", "queued")
    last = queue.list_messages(State.QUEUED, MESSAGES - 1, 1)[0]
    pages = {
        "overview": admin_url("changelist"),
        "list": listing,
        "filtered": f"{listing}?command=tests.bulk",
        "argument": f"{listing}?argument=nowhere",
        "error": f"{listing}?error=nowhere",
        "live": admin_url("live"),
        "message": admin_url("message", "default", last.id),
    }
    for page, url in pages.items():
        # Once per server, redis-py loads each Lua script on its first use
        # (NOSCRIPT, SCRIPT LOAD, EVALSHA); the bound is for every render after.
        assert client.get(url).status_code == 200
        with (
            CaptureQueriesContext(connection) as queries,
            count_redis_calls(monkeypatch) as calls,
        ):
            response = client.get(url)
        assert response.status_code == 200
        assert len(queries) <= MAX_QUERIES[page], [q["sql"] for q in queries]
        assert calls.round_trips <= MAX_ROUND_TRIPS[page], page
        assert calls.commands <= MAX_COMMANDS[page], page
        if server_backend:  # Redis: the database serves the session alone
            assert calls.round_trips > 0
        print(
            f"{page}: {len(queries)} queries, {calls.round_trips} Redis round "
            f"trips, {calls.commands} Redis commands"
        )
        if page in ("list", "filtered"):
            assert len(response.context["rows"]) == PER_PAGE
            assert response.context["has_next"] is True
        if page in ("argument", "error"):  # stopped at the bound, goes on
            assert response.context["rows"] == []
            assert response.context["listing"].examined == INSPECT_SCAN_LIMIT
            assert "Search further" in response.text
