"""The ``expires`` option: checked when it is given and at enqueue, counted
from the eta, and what becomes of an expired message for its caller (the
result handle, the signal, run_enqueued, the consumer's housekeeping)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from djqueue import (
    CommandFailed,
    InvalidOption,
    MessageExpired,
    State,
    get_queue,
    queue_command,
    signals,
)
from djqueue.backends.expiry import expired_reason
from djqueue.commands.periodic import PeriodicTicker, _periodic, periodic_command
from djqueue.commands.registry import registry
from djqueue.consumer.housekeeping import expire_all
from djqueue.testing import run_enqueued
from djqueue.testing.deferred import write_deferred
from testproject.demo.commands import add

from .factories import make_message
from .minimal_backend import MinimalQueue

pytestmark = pytest.mark.django_db


@queue_command(name="tests.expiry.expiring", expires=60)
def expiring(value):
    return value


def stored_message(result):
    """The message of ``result`` as stored (written now if Redis waits for
    the test's transaction to commit)."""
    write_deferred()
    return get_queue().get(result.id)


# -- The option ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expires", "words"),
    [
        (0, "more than 0"),
        (-5, "more than 0"),
        (float("nan"), "more than 0"),
        (10**12, "at most"),
        (True, "a number of seconds, a timedelta or a datetime"),
        ("soon", "a number of seconds, a timedelta or a datetime"),
        (timedelta(seconds=-1), "more than 0"),
    ],
)
def test_bad_expires_are_refused_where_given(expires, words):
    with pytest.raises(InvalidOption, match=words):
        add.using(expires=expires)
    with pytest.raises(InvalidOption, match=words):
        queue_command(name="tests.expiry.bad", expires=expires)


def test_a_timedelta_is_seconds():
    assert add.using(expires=timedelta(minutes=2)).options.expires == 120.0


def test_seconds_count_from_the_eta(backend):
    """A scheduled message has its seconds to start once it is due."""
    eta = timezone.now() + timedelta(hours=1)
    result = expiring.using(eta=eta)(1)
    assert stored_message(result).deadline == eta + timedelta(seconds=60)
    now_result = expiring(2)
    message = stored_message(now_result)
    assert message.deadline == message.eta + timedelta(seconds=60)


def test_a_moment_is_kept_as_given(backend):
    moment = timezone.now() + timedelta(minutes=5)
    result = add.using(expires=moment)(1, 2)
    assert stored_message(result).deadline == moment


def test_a_naive_moment_is_in_the_current_time_zone(backend, settings):
    settings.TIME_ZONE = "Europe/Paris"
    naive = datetime.now() + timedelta(days=1)
    result = add.using(expires=naive)(1, 2)
    assert stored_message(result).deadline == timezone.make_aware(naive)


def test_a_moment_not_after_the_eta_is_refused_and_nothing_written(backend):
    queue = get_queue()
    eta = timezone.now() + timedelta(hours=1)
    with pytest.raises(InvalidOption, match="not after the message's eta"):
        add.using(eta=eta, expires=eta - timedelta(seconds=1))(1, 2)
    with pytest.raises(InvalidOption, match="would expire before it could start"):
        add.using(expires=timezone.now() - timedelta(seconds=1))(1, 2)
    assert queue.counts()[State.QUEUED] == queue.counts()[State.SCHEDULED] == 0


def test_a_moment_out_of_range_is_refused(backend):
    with pytest.raises(InvalidOption, match="out of range"):
        add.using(expires=datetime.max.replace(tzinfo=UTC))(1, 2)
    late = timezone.now().replace(year=9999, month=12, day=1)
    with pytest.raises(InvalidOption, match="out of range"):
        add.using(eta=late, expires=10**9)(1, 2)


def test_a_backend_without_deadlines_refuses_expires(settings):
    settings.QUEUES = {"default": {"BACKEND": "tests.minimal_backend.MinimalQueue"}}
    assert not MinimalQueue.supports_expiry
    with pytest.raises(NotImplementedError, match="supports_expiry flag is False"):
        expiring(1)
    with pytest.raises(NotImplementedError, match="does not support deadlines"):
        MinimalQueue("default").expire_due()


# -- An expired message, as its caller sees it ---------------------------


@pytest.fixture
def expired_signals():
    received = []

    def receiver(sender, message, error, **kwargs):
        received.append((sender, message.id, message.state, error))

    signals.message_expired.connect(receiver)
    yield received
    signals.message_expired.disconnect(receiver)


def test_run_enqueued_never_runs_an_expired_message(backend, expired_signals):
    on_time = expiring("on time")
    [ran] = run_enqueued(now=stored_message(on_time).eta + timedelta(seconds=59))
    assert ran.id == on_time.id
    assert on_time.get(timeout=0) == "on time"

    late = expiring("late")
    message = stored_message(late)
    assert run_enqueued(now=message.eta + timedelta(seconds=61)) == []
    assert late.status == State.EXPIRED
    reason = expired_reason(message.deadline)
    assert expired_signals == [
        ("tests.expiry.expiring", late.id, State.EXPIRED, reason)
    ]


def test_the_result_of_an_expired_message_raises_message_expired(backend):
    result = expiring("late")
    deadline = stored_message(result).deadline
    run_enqueued(now=deadline + timedelta(seconds=1))

    assert result.status == State.EXPIRED
    assert result.ready()
    assert result.failed
    assert not result.succeeded
    assert result.result is None
    assert result.error == expired_reason(deadline)
    with pytest.raises(MessageExpired, match="before it started: it never ran"):
        result.get(timeout=0)
    with pytest.raises(CommandFailed):
        result.value  # noqa: B018


def test_housekeeping_expires_and_announces_each_message_once(backend, expired_signals):
    queue = get_queue()
    results = [expiring(n) for n in range(3)]
    later = stored_message(results[0]).deadline + timedelta(seconds=1)
    assert expire_all([queue], later) == 3
    assert expire_all([queue], later) == 0
    assert sorted(entry[1] for entry in expired_signals) == sorted(
        r.id for r in results
    )


def test_housekeeping_skips_queues_without_deadlines():
    assert expire_all([MinimalQueue("default")], timezone.now()) is None


def test_a_message_written_without_a_deadline_never_expires(backend):
    queue = get_queue()
    queue.write(plain := make_message())
    assert queue.expire_due(now=timezone.now() + timedelta(days=3650)) == []
    assert queue.get(plain.id).state == State.QUEUED


# -- The docs' example ---------------------------------------------------

PAGE = Path(__file__).resolve().parent.parent / "docs" / "commands.rst"


@pytest.fixture
def meetings():
    """The commands module the Expiry section shows, run as it is shown."""
    block = re.search(
        r"\.\. code-block:: python\n    :caption: meetings/commands\.py\n\n"
        r"(?P<body>(?:(?:    .*)?\n)+)",
        PAGE.read_text(),
    )
    assert block, "the Expiry section shows meetings/commands.py"
    code = "\n".join(line[4:] for line in block["body"].rstrip("\n").split("\n"))
    module = {"__name__": "tests.docs_meetings"}
    exec(compile(code, f"{PAGE}: meetings/commands.py", "exec"), module)
    yield SimpleNamespace(**module)
    registry.unregister("tests.docs_meetings.send_reminder")


def test_the_docs_reminder_runs_before_the_meeting(backend, meetings):
    meeting_at = timezone.now() + timedelta(hours=2)
    result = meetings.remind(7, meeting_at)
    message = stored_message(result)
    assert message.eta == meeting_at - timedelta(minutes=15)
    assert message.deadline == meeting_at
    [ran] = run_enqueued(now=meeting_at - timedelta(minutes=1))
    assert ran.id == result.id
    assert result.get(timeout=0) == "reminded 7"


def test_the_docs_reminder_is_dropped_once_the_meeting_began(backend, meetings):
    meeting_at = timezone.now() + timedelta(hours=2)
    result = meetings.remind(7, meeting_at)
    assert run_enqueued(now=meeting_at) == []
    with pytest.raises(MessageExpired):
        result.get(timeout=0)


def test_the_commands_default_counts_ten_minutes_from_the_eta(backend, meetings):
    result = meetings.send_reminder(8)
    message = stored_message(result)
    assert message.deadline == message.eta + timedelta(minutes=10)


def test_check_reports_a_command_with_expires_on_a_backend_without(settings):
    from djqueue.checks import check_settings

    assert not [e for e in check_settings() if e.id == "djqueue.E015"]
    settings.QUEUES = {"default": {"BACKEND": "tests.minimal_backend.MinimalQueue"}}

    reported = [e for e in check_settings() if e.id == "djqueue.E015"]

    assert "tests.expiry.expiring" in [error.obj for error in reported]
    assert all("does not support deadlines" in error.msg for error in reported)


# -- Periodic commands -----------------------------------------------------


def test_a_periodic_tick_has_its_seconds_from_the_tick(backend):
    def beat():
        return "beat"

    command = periodic_command(
        every=timedelta(seconds=10), expires=30, name="tests.expiry.beat"
    )(beat)
    try:
        ticker = PeriodicTicker([get_queue()])
        start = datetime(2026, 11, 24, 4, 0, 3, tzinfo=UTC)
        ticker.write(start)
        assert ticker.write(start + timedelta(seconds=7)) == 1
    finally:
        _periodic.pop(command.name)
        registry.unregister(command.name)
    write_deferred()
    (tick,) = get_queue().list_messages(State.QUEUED)
    assert tick.deadline == datetime(2026, 11, 24, 4, 0, 40, tzinfo=UTC)


def test_a_periodic_command_refuses_a_moment_to_expire_at():
    moment = timezone.now() + timedelta(days=1)
    with pytest.raises(InvalidOption, match="counted from each tick"):
        periodic_command(every=timedelta(seconds=10), expires=moment)


@pytest.mark.django_db
def test_the_deadlines_are_indexed_on_every_database():
    """Housekeeping reads the messages past their deadline every second: a
    partial index of the rows that have one where the database has partial
    indexes, a plain index on MySQL and MariaDB, which have none."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, "djqueue_message"
        )
    indexes = {
        name: spec["columns"] for name, spec in constraints.items() if spec["index"]
    }
    expected = (
        "djqueue_deadline_mysql" if connection.vendor == "mysql" else "djqueue_deadline"
    )
    assert indexes.get(expected) == ["deadline"]
