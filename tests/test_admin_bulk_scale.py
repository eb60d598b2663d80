"""A bulk action over 100,000 messages: each of its requests costs a bounded
number of queries or Redis calls (counted, never timed), and following the
progress pages reaches every message.

Runs on DatabaseQueue (each database pass) and on a real Redis, as
``tests/test_admin_scale.py`` does.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djqueue import get_queue
from djqueue.admin.bulk import SHOWN, STEP
from djqueue.states import State

from .admin_helpers import admin_url, staff_user
from .test_admin_scale import MESSAGES, count_redis_calls, fill

pytestmark = pytest.mark.django_db

#: Queries of one request: four for the session, the user and their
#: permissions; the confirmation counts and reads the first page; a step
#: reads the next ids, changes them, and writes or updates the log entry
#: (its first one also reads the content type).
MAX_QUERIES = {"confirm": 6, "step": 8}
#: Redis round trips: the confirmation's counts pipeline and first scan page
#: (a scan program, then a pipeline of HGETALL); a step's two programs.
MAX_ROUND_TRIPS = {"confirm": 3, "step": 2}
MAX_COMMANDS = {"confirm": 7 + 1 + SHOWN, "step": 2}


def measured(client, monkeypatch, url, data):
    with (
        CaptureQueriesContext(connection) as queries,
        count_redis_calls(monkeypatch) as calls,
    ):
        response = client.post(url, data)
    return response, len(queries), calls


def test_a_bulk_action_over_100k_messages_is_bounded_per_request(
    server_backend, client, django_user_model, monkeypatch
):
    queue = get_queue()
    fill(queue, MESSAGES)
    user = staff_user(django_user_model, "op", "view_message", "cancel_message")
    client.force_login(user)
    url = admin_url("bulk", "default", "queued")
    # Once per server, redis-py loads each Lua script on its first use.
    queue.change_scan("cancel", State.QUEUED, "", 1, command="none")
    queue.change_messages("cancel", State.QUEUED, [str(uuid.UUID(int=0))])

    page, queries, calls = measured(
        client, monkeypatch, url, {"action": "cancel", "scope": "all"}
    )
    assert page.status_code == 200
    assert page.context["count"] == MESSAGES
    assert queries <= MAX_QUERIES["confirm"]
    assert calls.round_trips <= MAX_ROUND_TRIPS["confirm"]
    assert calls.commands <= MAX_COMMANDS["confirm"]

    data, steps, most = page.context["hidden"], 0, (0, 0, 0)
    while True:
        response, queries, calls = measured(client, monkeypatch, url, data)
        steps += 1
        most = tuple(map(max, most, (queries, calls.round_trips, calls.commands)))
        if response.status_code != 200:
            break
        data = response.context["hidden"]
        assert response.context["selection"].changed == steps * STEP
    print(f"{steps} steps; at most {most[0]} queries, {most[1]} Redis round trips")

    assert response.status_code == 302
    assert steps == MESSAGES // STEP
    assert most[0] <= MAX_QUERIES["step"]
    assert most[1] <= MAX_ROUND_TRIPS["step"]
    assert most[2] <= MAX_COMMANDS["step"]
    if server_backend:  # Redis: the database serves the session alone
        assert most[1] > 0
    counts = queue.counts()
    assert (counts[State.QUEUED], counts[State.CANCELLED]) == (0, MESSAGES)
