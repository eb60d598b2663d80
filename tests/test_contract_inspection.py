"""The inspection part of the BaseQueue contract (what the admin, queue_info
and the metrics view read): every backend, on every server, passes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.backends.base import INSPECT_SCAN_LIMIT
from djqueue.backends.inspection import ConsumerInfo, minute_of
from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


def at(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def consumer(consumer_id="host:1", started=None, **changes) -> ConsumerInfo:
    started = started or timezone.now()
    values = {
        "id": consumer_id,
        "host": "host",
        "pid": 1,
        "queues": ("default", "mail"),
        "concurrency": 4,
        "worker_type": "thread",
        "started_at": started,
        "heartbeat_at": started,
        "processed": 7,
        "failed": 2,
    } | changes
    return ConsumerInfo(**values)


def test_list_messages_filters_by_command(queue):
    base = timezone.now() - timedelta(minutes=1)
    mails = [
        make_message("app.mail", eta=base + timedelta(seconds=i)) for i in range(5)
    ]
    others = [make_message("app.other", eta=base) for _ in range(3)]
    queue.write_many(others + mails)

    page = queue.list_messages(State.QUEUED, 0, 3, command="app.mail")
    rest = queue.list_messages(State.QUEUED, 3, 3, command="app.mail")

    assert [m.id for m in page + rest] == [m.id for m in mails]
    assert queue.list_messages(State.QUEUED, command="app.none") == []
    assert len(queue.list_messages(State.QUEUED, 0, 100)) == 8


def test_list_messages_filters_finished_newest_first(queue):
    for command in ("a", "b", "a"):
        queue.write(make_message(command))
    for step, message in enumerate(queue.claim("w", LEASE, limit=3)):
        queue.fail(message, "boom", now=at(step))

    failed = queue.list_messages(State.FAILED, command="a")

    assert [m.command for m in failed] == ["a", "a"]
    assert failed[0].finished_at > failed[1].finished_at


def test_filtered_page_examines_a_bounded_number_of_messages(queue, monkeypatch):
    """With a scan limit of 20, a filtered page holds the matches in run
    order: all of them if the backend filters in the server, else exactly
    those among the first 20 messages, and then a match beyond them (the
    rare one) is not returned either."""
    monkeypatch.setattr("djqueue.backends.base.INSPECT_SCAN_LIMIT", 20)
    base = timezone.now() - timedelta(minutes=1)
    plenty = [make_message("plenty", eta=base + timedelta(0, n)) for n in range(30)]
    rare = make_message("rare", eta=base + timedelta(seconds=60))
    queue.write_many([*plenty[::-1], rare])

    found = [m.id for m in queue.list_messages(State.QUEUED, command="rare")]
    page = [m.id for m in queue.list_messages(State.QUEUED, command="plenty")]

    in_order = [m.id for m in plenty]
    filtered_in_the_server = (page, found) == (in_order, [rare.id])
    scanned = (page, found) == (in_order[:20], [])
    assert filtered_in_the_server or scanned, (page, found)
    assert INSPECT_SCAN_LIMIT >= 1000


def test_run_now_makes_a_scheduled_message_ready(queue):
    later = make_message(eta=at(3600))
    ready = make_message()
    queue.write(later)
    queue.write(ready)

    assert queue.run_now(later.id)
    assert not queue.run_now(later.id), "no longer scheduled"
    assert not queue.run_now(ready.id), "a queued message is left alone"
    assert not queue.run_now("00000000-0000-0000-0000-000000000000")

    assert queue.get(later.id).state == State.QUEUED
    assert queue.get(later.id).eta <= timezone.now()
    assert {m.id for m in queue.claim("w", LEASE, limit=5)} == {later.id, ready.id}


def test_oldest_queued_is_across_priorities(queue):
    assert queue.oldest_queued_at() is None
    base = timezone.now() - timedelta(minutes=10)
    queue.write(make_message(priority=50, eta=base + timedelta(minutes=5)))
    queue.write(make_message(priority=0, eta=base + timedelta(minutes=2)))
    queue.write(make_message(priority=-20, eta=base))
    queue.write(make_message(priority=-20, eta=base + timedelta(minutes=1)))
    queue.write(make_message(eta=at(3600)))  # scheduled, not queued

    oldest = queue.oldest_queued_at()

    assert abs((oldest - base).total_seconds()) < 0.001


def test_consumers_register_heartbeat_and_expire(queue):
    now = timezone.now()
    early = consumer("host:1", started=now - timedelta(hours=1))
    late = consumer("host:2", started=now)
    queue.register_consumer(early, ttl=30, now=now)
    queue.register_consumer(late, ttl=30, now=now)

    assert queue.consumers(now=now + timedelta(seconds=10)) == [late, early]

    beat = consumer("host:1", started=early.started_at, processed=9)
    queue.register_consumer(beat, ttl=30, now=now + timedelta(seconds=20))
    alive = queue.consumers(now=now + timedelta(seconds=40))
    assert alive == [beat], "host:2 missed its heartbeat"

    queue.unregister_consumer("host:1")
    queue.unregister_consumer("unknown")
    assert queue.consumers(now=now + timedelta(seconds=40)) == []


def test_run_statistics_per_minute_and_totals(queue):
    now = minute_of(timezone.now()) + timedelta(seconds=30)
    earlier = now - timedelta(minutes=5)
    queue.record_runs({("a", State.DONE): 3, ("a", State.FAILED): 1}, now=earlier)
    queue.record_runs({("a", State.DONE): 2, ("b", State.DONE): 4}, now=now)
    queue.record_runs({("b", State.FAILED): 1}, now=now)
    queue.record_runs({}, now=now)

    buckets = queue.throughput(now - timedelta(hours=1), now=now)

    assert [(b.minute, b.done, b.failed) for b in buckets] == [
        (minute_of(earlier), 3, 1),
        (minute_of(now), 6, 1),
    ]
    assert queue.throughput(now - timedelta(minutes=1), now=now)[0].done == 6
    assert queue.command_totals() == {"a": (5, 1), "b": (4, 1)}


def test_run_statistics_add_up_the_seconds_of_the_runs(queue):
    now = minute_of(timezone.now()) + timedelta(seconds=30)
    queue.record_runs(
        {("a", State.DONE): 3, ("a", State.FAILED): 1},
        now=now - timedelta(minutes=5),
        seconds={("a", State.DONE): 1.5, ("a", State.FAILED): 0.25},
    )
    queue.record_runs({("a", State.DONE): 1}, now=now, seconds={("a", State.DONE): 2})
    queue.record_runs({("b", State.DONE): 2}, now=now)

    seconds = queue.command_seconds()
    assert seconds["a"] == 3.75
    assert seconds.get("b", 0) == 0
    assert set(seconds) <= {"a", "b"}
    assert queue.command_totals() == {"a": (4, 1), "b": (2, 0)}


def test_last_ticks_reports_periodic_writes(queue):
    assert queue.last_ticks() == {}
    tick = timezone.now().replace(microsecond=0)
    assert queue.write_tick(make_message("tests.every"), "tests.every", tick)

    assert queue.last_ticks() == {"tests.every": tick}


def test_inspection_reads_change_nothing(queue):
    """Every inspection read leaves every message, consumer and statistic as
    it was, field by field."""
    queue.write_many([make_message(), make_message(), make_message(eta=at(60))])
    running, failing = queue.claim("w", LEASE, limit=2)
    queue.fail(failing, "boom", "Traceback")
    queue.register_consumer(consumer(), ttl=60)
    queue.record_runs({("tests.command", State.DONE): 2})

    moment = timezone.now()

    def fields(m):
        return (
            m.id, m.state, m.attempts, m.eta, m.error, m.worker,
            m.lease_expires_at, m.finished_at, m.result,
        )  # fmt: skip

    def everything():
        return {
            "counts": queue.counts(),
            "messages": {
                state: [fields(m) for m in queue.list_messages(state, 0, 100)]
                for state in State
            },
            "consumers": queue.consumers(now=moment),
            "totals": queue.command_totals(),
            "throughput": queue.throughput(moment - timedelta(hours=1), now=moment),
            "ticks": queue.last_ticks(),
        }

    before = everything()
    queue.list_messages(State.QUEUED, command="tests.command")
    queue.get(running.id)
    queue.oldest_queued_at()
    queue.consumers()
    queue.throughput(timezone.now() - timedelta(hours=1))
    queue.command_totals()
    queue.last_ticks()
    assert everything() == before
