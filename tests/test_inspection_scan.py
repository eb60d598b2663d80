"""``scan_messages``, the bounded scan behind filtered lists: every backend
reaches every match however deep, examining a bounded number of messages
per page; on Redis the cursor survives messages leaving the state ahead of
it (issue 12, item 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.states import State

from .conftest import QUEUE_FACTORIES
from .factories import make_message

pytestmark = pytest.mark.django_db

SCAN_LIMIT = 20


@pytest.fixture
def small_scans(monkeypatch):
    monkeypatch.setattr("djqueue.backends.base.INSPECT_SCAN_LIMIT", SCAN_LIMIT)


def finish(queue, messages, when):
    """Claim and acknowledge ``messages`` at ``when`` (so done, newest first)."""
    wanted = {m.id for m in messages}
    claimed = queue.claim("w", 300, limit=len(messages) + 100)
    assert {m.id for m in claimed} >= wanted
    for message in claimed:
        assert queue.ack(message, None, result_ttl=600, now=when)


def follow(queue, state, command, limit, cursor=""):
    """Follow a scan from ``cursor`` to its end: the ids found, page by
    page, and what each page examined."""
    pages = []
    for _ in range(100):
        scan = queue.scan_messages(state, cursor, limit, command=command)
        pages.append(([m.id for m in scan.messages], scan.examined))
        if not scan.cursor:
            return pages
        cursor = scan.cursor
    raise AssertionError(f"the scan did not end: {pages[-3:]}")


def test_a_scan_reaches_old_matches_behind_many_newer_messages(queue, small_scans):
    """Three old matches behind 50 newer messages: following the cursors
    finds all three, newest first, and no page examines more than the limit."""
    now = timezone.now()
    rare = [make_message("app.receipt") for _ in range(3)]
    for step, message in enumerate(rare):
        queue.write(message)
        finish(queue, [message], now - timedelta(minutes=10, seconds=step))
    bulk = [make_message("app.bulk") for _ in range(50)]
    queue.write_many(bulk)
    finish(queue, bulk, now)

    pages = follow(queue, State.DONE, "app.receipt", 2)

    found = [message_id for ids, _ in pages for message_id in ids]
    assert found == [m.id for m in rare]
    assert all(examined <= SCAN_LIMIT for _, examined in pages), pages
    assert all(len(ids) <= 2 for ids, _ in pages), pages


def test_a_scan_without_a_filter_pages_through_everything(queue):
    base = timezone.now() - timedelta(minutes=1)
    made = [make_message("app.any", eta=base + timedelta(seconds=i)) for i in range(5)]
    queue.write_many(made)

    pages = follow(queue, State.QUEUED, None, 2)

    assert [ids for ids, _ in pages] == [
        [m.id for m in made[:2]],
        [m.id for m in made[2:4]],
        [made[4].id],
    ]


def test_a_cursor_no_page_returned_is_refused(queue):
    for cursor in ("nonsense", "12:", "-3"):
        with pytest.raises(ValueError, match="not a cursor"):
            queue.scan_messages(State.QUEUED, cursor)


@pytest.fixture(params=["fakeredis", "redis"])
def redis_queue(request):
    queue = QUEUE_FACTORIES[request.param](request)
    yield queue
    queue.flush()
    queue.close()


def test_a_redis_cursor_survives_messages_leaving_ahead_of_it(redis_queue, small_scans):
    """Messages that share one score (one eta), matches interleaved: the
    message the cursor names is deleted, and three the scan passed are
    claimed; the scan goes on with neither a repeat nor a miss (a cursor
    that were a position would now skip three messages)."""
    queue = redis_queue
    eta = timezone.now() - timedelta(minutes=1)
    made = [
        make_message("app.rare" if i % 3 == 0 else "app.bulk", eta=eta)
        for i in range(30)
    ]
    queue.write_many(made)
    rare = [m.id for m in made if m.command == "app.rare"]

    first = queue.scan_messages(State.QUEUED, "", 2, command="app.rare")
    assert [m.id for m in first.messages] == rare[:2]
    assert queue.delete(rare[1])  # the message the cursor names
    claimed = queue.claim("w", 300, limit=3)  # three the scan passed
    assert claimed[0].id == rare[0]

    pages = follow(queue, State.QUEUED, "app.rare", 2, first.cursor)

    assert [message_id for ids, _ in pages for message_id in ids] == rare[2:]
    assert all(examined <= SCAN_LIMIT for _, examined in pages), pages
