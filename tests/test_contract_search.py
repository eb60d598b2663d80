"""The search filters of ``list_messages`` and ``scan_messages`` (by
command, argument text and error text), part of the inspection contract:
every backend, on every server, passes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.states import State

from .conftest import QUEUE_FACTORIES
from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30
SCAN_LIMIT = 20


def fail_all(queue, errors):
    """Claim the ready messages and fail them, one error each, in order,
    each a second later (so the last one is listed first)."""
    claimed = queue.claim("w", LEASE, limit=len(errors))
    assert len(claimed) == len(errors)
    base = timezone.now()
    for step, (message, error) in enumerate(zip(claimed, errors, strict=True)):
        assert queue.fail(message, error, "Traceback", now=base + timedelta(0, step))
    return claimed


def follow(queue, state, limit, **filters):
    """Every page of a scan: the ids found and what each page examined."""
    pages, cursor = [], ""
    for _ in range(100):
        scan = queue.scan_messages(state, cursor, limit, **filters)
        pages.append(([m.id for m in scan.messages], scan.examined))
        if not scan.cursor:
            return pages
        cursor = scan.cursor
    raise AssertionError(f"the scan did not end: {pages[-3:]}")


def test_list_messages_finds_argument_text_without_regard_to_case(queue):
    base = timezone.now() - timedelta(minutes=1)
    later = base + timedelta(seconds=1)
    wanted = [
        make_message("app.mail", ("Ada@Example.org",), eta=base),
        make_message("app.mail", (), {"to": "ada@example.org"}, eta=later),
    ]
    others = [make_message("app.mail", (f"bob{n}@example.org",)) for n in range(3)]
    queue.write_many(others + wanted)

    found = queue.list_messages(State.QUEUED, argument="ADA@example")

    assert [m.id for m in found] == [m.id for m in wanted]
    assert queue.list_messages(State.QUEUED, argument="carol") == []
    assert len(queue.list_messages(State.QUEUED, argument="")) == 5, "empty: no filter"


def test_list_messages_finds_error_text_newest_first(queue):
    for command in ("a", "b", "a", "a"):
        queue.write(make_message(command))
    failed = fail_all(
        queue,
        [
            "TimeoutError: smtp.example.org",
            "ValueError: bad",
            "ValueError: worse",
            "timeouterror: SMTP",
        ],
    )

    timeouts = queue.list_messages(State.FAILED, error="TimeoutError")
    a_values = queue.list_messages(State.FAILED, command="a", error="valueerror")
    b_timeouts = queue.list_messages(State.FAILED, command="b", error="timeout")

    assert [m.id for m in timeouts] == [failed[3].id, failed[0].id]
    assert [m.id for m in a_values] == [failed[2].id], "both filters apply"
    assert b_timeouts == []


def test_a_text_search_scan_reaches_every_match_with_bounded_pages(queue, monkeypatch):
    """Three matches far apart among 60 messages, a scan limit of 20: the
    scan finds all three in list order, and no page examines more than the
    limit (a backend that searches in the server may examine fewer)."""
    monkeypatch.setattr("djqueue.backends.base.INSPECT_SCAN_LIMIT", SCAN_LIMIT)
    base = timezone.now() - timedelta(minutes=5)
    made = [
        make_message(
            "app.sync",
            (f"needle-{n}" if n in (2, 33, 59) else f"hay-{n}",),
            eta=base + timedelta(seconds=n),
        )
        for n in range(60)
    ]
    queue.write_many(made[::-1])

    pages = follow(queue, State.QUEUED, 2, argument="NEEDLE")
    window = queue.list_messages(State.QUEUED, 0, 50, argument="needle")

    found = [message_id for ids, _ in pages for message_id in ids]
    assert found == [made[n].id for n in (2, 33, 59)]
    assert all(examined <= SCAN_LIMIT for _, examined in pages), pages
    assert all(len(ids) <= 2 for ids, _ in pages), pages
    all_found = [m.id for m in window] == found
    first_window = [m.id for m in window] == [made[2].id]
    assert all_found or first_window, "one page examines the limit at most"


def test_a_search_scan_goes_on_past_messages_that_left_the_state(queue):
    base = timezone.now() - timedelta(minutes=5)
    made = [
        make_message("app.sync", (f"item-{n}",), eta=base + timedelta(seconds=n))
        for n in range(6)
    ]
    queue.write_many(made)

    first = queue.scan_messages(State.QUEUED, "", 2, argument="item")
    assert [m.id for m in first.messages] == [made[0].id, made[1].id]
    assert queue.delete(made[1].id)  # the last message of the page
    assert queue.delete(made[2].id)  # and the next one

    rest = queue.scan_messages(State.QUEUED, first.cursor, 10, argument="item")

    assert [m.id for m in rest.messages] == [m.id for m in made[3:]]
    assert rest.cursor == ""


@pytest.fixture(params=["fakeredis", "redis"])
def redis_queue(request):
    queue = QUEUE_FACTORIES[request.param](request)
    yield queue
    queue.flush()
    queue.close()


def test_a_redis_text_search_stops_at_its_bytes_bound(redis_queue, monkeypatch):
    """Payloads of about 100 bytes and a bound of 250 bytes: each page
    examines three messages at most, and following the pages finds every
    match."""
    monkeypatch.setattr("djqueue.backends.base.INSPECT_SCAN_BYTES", 250)
    queue = redis_queue
    base = timezone.now() - timedelta(minutes=5)
    made = [
        make_message(
            "app.sync",
            ("x" * 90, "needle" if n % 4 == 0 else "hay"),
            eta=base + timedelta(seconds=n),
        )
        for n in range(12)
    ]
    queue.write_many(made)

    pages = follow(queue, State.QUEUED, 10, argument="needle")

    found = [message_id for ids, _ in pages for message_id in ids]
    assert found == [made[n].id for n in (0, 4, 8)]
    assert all(examined <= 3 for _, examined in pages), pages
    assert len(pages) >= 4
