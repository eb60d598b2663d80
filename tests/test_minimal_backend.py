"""A backend with the required methods only, built from the docs' guide
(:mod:`tests.minimal_backend`), is a backend: it passes the contract's
lifecycle cases, a consumer runs messages on it, every optional call refuses
with a sentence naming the backend and its flag, and the callers of the
optional parts leave them out instead of failing.

The lifecycle cases are the contract suite's own, imported: collected here,
they run on this module's ``queue`` fixture.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from djqueue import State, get_queue, queue_command, registry
from djqueue.backends.base import BaseQueue
from djqueue.checks import check_settings
from djqueue.commands.periodic import PeriodicTicker, _periodic, periodic_command
from djqueue.consumer import Consumer
from testproject.demo import commands

from .admin_helpers import admin_url, staff_user
from .factories import make_message
from .minimal_backend import MinimalQueue
from .test_contract import (  # noqa: F401 - collected here, on MinimalQueue
    test_a_leased_message_is_not_handed_out_again,
    test_ack_keeps_the_result_for_its_ttl,
    test_ack_with_zero_ttl_keeps_nothing,
    test_claim_order_is_priority_then_eta,
    test_claim_respects_limit,
    test_expired_lease_is_reclaimed_for_another_worker,
    test_extend_keeps_a_lease_alive,
    test_failed_messages_expire_after_the_failed_ttl,
    test_future_eta_waits_in_scheduled_until_promoted,
    test_last_attempt_lost_ends_in_failed_as_worker_lost,
    test_outcomes_are_refused_once_the_lease_is_lost,
    test_queues_sharing_storage_are_isolated,
    test_read_on_empty_queue_returns_none,
    test_release_gives_back_without_counting_the_attempt,
    test_retry_later_keeps_attempts_and_waits_for_eta,
    test_retry_later_with_a_past_eta_is_ready_at_once,
    test_wait_returns_once_finished_or_after_timeout,
    test_write_many_stores_every_message,
    test_write_then_read_leases_the_message,
)
from .test_contract_acks import (  # noqa: F401 - collected here, on MinimalQueue
    ack_many,
    test_a_message_acknowledged_twice_in_a_batch_counts_once,
    test_a_message_of_another_queue_is_not_acknowledged,
    test_each_result_is_kept_for_its_own_ttl,
)
from .test_contract_writes import (  # noqa: F401 - collected here, on MinimalQueue
    test_write_and_write_many_read_back_identically,
)

pytestmark = pytest.mark.django_db

BACKEND = f"{MinimalQueue.__module__}.MinimalQueue"

#: Every optional call, with arguments, and the flag that would allow it.
OPTIONAL_CALLS = [
    ("supports_inspection", "counts", ()),
    ("supports_inspection", "list_messages", (State.QUEUED,)),
    ("supports_inspection", "scan_messages", (State.QUEUED,)),
    ("supports_inspection", "retry", ("id",)),
    ("supports_inspection", "cancel", ("id",)),
    ("supports_inspection", "delete", ("id",)),
    ("supports_inspection", "purge", (State.FAILED,)),
    ("supports_inspection", "run_now", ("id",)),
    ("supports_inspection", "change_messages", ("retry", State.FAILED, ["id"])),
    ("supports_inspection", "change_scan", ("retry", State.FAILED)),
    ("supports_inspection", "oldest_queued_at", ()),
    ("supports_presence", "register_consumer", (None, 30)),
    ("supports_presence", "unregister_consumer", ("id",)),
    ("supports_presence", "consumers", ()),
    ("supports_statistics", "record_runs", ({},)),
    ("supports_statistics", "throughput", (timezone.now(),)),
    ("supports_statistics", "command_totals", ()),
    ("supports_statistics", "command_seconds", ()),
    ("supports_periodic", "write_tick", (None, "name", timezone.now())),
    ("supports_periodic", "last_ticks", ()),
    ("supports_unique", "write_unique", (None,)),
    ("supports_suspects", "claim_suspect", ("w", 30)),
    ("supports_suspects", "has_suspects", ()),
    ("supports_pause", "pause", ("someone",)),
    ("supports_pause", "resume", ()),
    ("supports_pause", "pause_state", ()),
    ("supports_progress", "set_progress", (None, "{}")),
]


class Collected(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def warnings_logged():
    """The records of djqueue's loggers at WARNING and above, whether or not
    a ``run_queue`` of this session stopped them from propagating."""
    logger, collected = logging.getLogger("djqueue"), Collected()
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(collected)
    try:
        yield collected.records
    finally:
        logger.removeHandler(collected)
        logger.setLevel(level)


@pytest.fixture
def queue():
    """A fresh, empty queue of the minimal backend."""
    backend = MinimalQueue(f"minimal-{uuid.uuid4().hex[:8]}")
    yield backend
    backend.flush()


@pytest.fixture
def minimal(settings):
    """The default queue on the minimal backend, writing at once even inside
    a transaction (it cannot take part in one)."""
    settings.QUEUES = {"default": {"BACKEND": BACKEND, "OPTIONS": {"ON_COMMIT": False}}}
    queue = get_queue()
    yield queue
    queue.flush()


def test_the_minimal_backend_has_no_optional_part():
    flags = {flag for flag, _, _ in OPTIONAL_CALLS}
    flags |= {"supports_transactions", "supports_lock_keys", "supports_wakeup"}
    flags |= {"supports_blocking_claim"}
    assert not any(getattr(MinimalQueue, flag) for flag in flags)
    assert set(vars(MinimalQueue)) & {n for _, n, _ in OPTIONAL_CALLS} == set()
    assert len(BaseQueue.__abstractmethods__) == 13


@pytest.mark.parametrize(("flag", "method", "arguments"), OPTIONAL_CALLS)
def test_each_optional_call_refuses_naming_the_backend_and_its_flag(
    queue, flag, method, arguments
):
    with pytest.raises(NotImplementedError) as raised:
        getattr(queue, method)(*arguments)

    sentence = str(raised.value)
    assert sentence.startswith("MinimalQueue does not support ")
    assert sentence.endswith(f"(its {flag} flag is False).")


@pytest.mark.django_db(transaction=True)  # the consumer closes connections
def test_a_consumer_runs_messages_without_the_optional_parts(minimal, warnings_logged):
    """Presence and statistics are skipped, not attempted and failed: the
    consumer logs no error but the failed run's, and the runs come out as
    they would anywhere."""
    added = [commands.add(n, 1) for n in range(5)]
    failed = commands.fail("minimal")

    Consumer(["default"], 2, burst=True, prefetch=1).run()

    assert [result.get(timeout=1) for result in added] == [1, 2, 3, 4, 5]
    assert failed.status == State.FAILED
    assert "minimal" in failed.error
    assert len(minimal) == 0
    (only,) = [record.getMessage() for record in warnings_logged]  # the failure
    assert only.endswith(
        "(testproject.demo.commands.fail) attempt 1: ValueError: minimal"
    )


@pytest.mark.django_db(transaction=True)  # the consumer closes connections
def test_a_command_reporting_progress_runs_on_the_minimal_backend(
    minimal, warnings_logged
):
    """Its values are checked and kept on the message as it runs; nothing is
    stored, and nothing is logged."""
    result = commands.import_reports(["a", "b"])

    Consumer(["default"], 1, burst=True).run()

    assert result.get(timeout=1) == 2
    assert result.progress is None
    assert warnings_logged == []


@pytest.fixture
def only_the_project_commands(monkeypatch):
    """Leave registered only the test project's own commands: run_queue
    checks every command, and other test modules register some the minimal
    backend refuses (a lock key, a unique key, a periodic schedule)."""

    def ours(command):
        return command.func.__module__.startswith("testproject.")

    kept = {name: c for name, c in registry._commands.items() if ours(c)}
    monkeypatch.setattr(registry, "_commands", kept)
    for name in [name for name in _periodic if name not in kept]:
        monkeypatch.delitem(_periodic, name)


@pytest.mark.django_db(transaction=True)  # the consumer closes connections
def test_run_queue_burst_drains_the_minimal_backend(minimal, only_the_project_commands):
    results = [commands.add(n, n) for n in range(3)]

    call_command("run_queue", burst=True, concurrency=1)

    assert [result.get(timeout=1) for result in results] == [0, 2, 4]


def test_a_unique_command_is_refused_at_enqueue_naming_the_fix(minimal):
    with pytest.raises(NotImplementedError) as raised:
        commands.add.using(unique=True)(1, 2)

    sentence = str(raised.value)
    assert "queue 'default' uses MinimalQueue" in sentence
    assert "supports_unique flag is False" in sentence
    assert "Use a backend that does, such as DatabaseQueue or RedisQueue" in sentence
    with pytest.raises(NotImplementedError, match="or a unique_key"):
        commands.add.using(unique_key="k")(1, 2)
    assert len(minimal) == 0


@pytest.fixture
def every_minute():
    def tick():
        pass

    every = periodic_command(every=timedelta(minutes=1), name="tests.minimal_tick")
    command = every(tick)
    yield command
    _periodic.pop(command.name)
    registry.unregister(command.name)


def test_periodic_commands_get_no_ticks_and_are_reported(
    minimal, every_minute, warnings_logged
):
    ticker = PeriodicTicker([minimal])

    assert ticker.write(timezone.now()) == 0
    assert ticker.write(timezone.now() + timedelta(minutes=5)) == 0

    assert len(minimal) == 0
    assert [record.getMessage() for record in warnings_logged] == [
        "Periodic command tests.minimal_tick does not run: its queue 'default' "
        "uses MinimalQueue, which does not support periodic ticks"
    ]
    reported = [e for e in check_settings() if e.id == "djqueue.E012"]
    assert [e.obj for e in reported] == ["tests.minimal_tick"]


def test_check_reports_a_unique_command_on_the_minimal_backend(minimal):
    def once():
        pass

    command = queue_command(name="tests.minimal_unique", unique=True)(once)
    try:
        reported = [e for e in check_settings() if e.id == "djqueue.E011"]
    finally:
        registry.unregister(command.name)
    (error,) = [e for e in reported if e.obj == "tests.minimal_unique"]
    assert "MinimalQueue, which does not support unique keys" in error.msg


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    return client


def test_the_admin_overview_renders_what_is_not_supported(minimal, viewer):
    minimal.write(make_message())

    response = viewer.get(admin_url("changelist"))

    assert response.status_code == 200
    [card] = response.context["cards"]
    assert (card.name, card.error, card.inspected) == ("default", "", False)
    assert card.summary.counts is None
    assert card.summary.throughput is None
    assert not card.tracks_consumers
    text = response.text
    assert "Counting and listing messages is not supported by this backend." in text
    assert "Run statistics are not supported by this backend." in text
    assert "Keeping track of consumers is not supported by this backend." in text
    assert "cannot be read" not in text
    assert "No consumer is alive" not in text


def test_the_admin_list_and_message_pages_say_what_is_not_supported(minimal, viewer):
    message = make_message()
    minimal.write(message)

    listing = viewer.get(admin_url("list", "default", State.QUEUED))
    found = viewer.get(admin_url("list", "default", State.QUEUED), {"q": message.id})
    page = viewer.get(admin_url("message", "default", message.id))

    assert listing.status_code == 200
    assert "Listing messages is not supported by this backend" in listing.text
    assert listing.context["rows"] == []
    assert found.status_code == 302  # found by its id, through get()
    assert page.status_code == 200
    assert page.context["actions"] == []


def test_the_periodic_page_and_metrics_leave_out_what_is_not_supported(
    minimal, viewer, every_minute
):
    periodic = viewer.get(admin_url("periodic"))
    metrics = viewer.get("/djqueue/metrics")

    assert periodic.status_code == 200
    assert "Not supported by this backend" in periodic.text
    assert metrics.status_code == 200
    assert 'djqueue_up{queue="default"} 1' in metrics.text
    assert 'djqueue_messages{queue="default"' not in metrics.text
    assert 'djqueue_consumers{queue="default"}' not in metrics.text


def test_queue_info_prints_what_is_not_known(minimal, capsys):
    minimal.write(make_message())

    call_command("queue_info")

    output = capsys.readouterr().out
    assert "n/a" in output
    assert "No queue's backend keeps track of its consumers." in output


def test_a_backend_without_presence_is_not_registered_with(minimal):
    """The consumer's heartbeat asks nothing of such a queue."""
    consumer = Consumer(["default"], 1, burst=True)
    consumer.presence.count(minimal, "tests.command", succeeded=True)

    assert consumer.presence.announce() is None
    assert consumer.presence._runs == {}  # nothing kept to store later
