"""djqueue.testing: run what a test enqueued in its own transaction, and see
what it enqueued, on each backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue, signals
from djqueue.states import State
from djqueue.testing import capture_enqueued, run_enqueued
from testproject.demo.commands import add, fail, fails_twice
from testproject.demo.models import Run

pytest_plugins = ["djqueue.testing.pytest"]

pytestmark = pytest.mark.django_db  # a TestCase-like transaction, not committed


def test_runs_in_the_callers_transaction(backend):
    result = fails_twice("in-transaction")
    now = timezone.now()

    [first] = run_enqueued(now=now)

    assert first.id == result.id
    assert first.state == State.SCHEDULED
    # The command's write is visible in the test's own transaction.
    assert Run.objects.filter(message_id=result.id, attempt=1).exists()


def test_eta_waits_for_the_clock(backend):
    now = timezone.now()
    later = add.using(eta=now + timedelta(hours=1))(1, 2)

    assert run_enqueued(now=now) == []
    assert get_queue().get(later.id).state == State.SCHEDULED
    [ran] = run_enqueued(now=now + timedelta(hours=1))
    assert ran.id == later.id
    assert later.get(timeout=0) == 3


def test_retries_run_when_the_clock_passes_their_eta(backend):
    retried = []

    def on_retried(sender, message, **kwargs):
        retried.append(message.attempts)

    signals.message_retried.connect(on_retried)
    try:
        result = fails_twice("retries")
        now = timezone.now()
        assert [m.state for m in run_enqueued(now=now)] == [State.SCHEDULED]
        assert run_enqueued(now=now + timedelta(seconds=9)) == []
        assert [m.state for m in run_enqueued(now=now + timedelta(seconds=10))] == [
            State.SCHEDULED
        ]
        [last] = run_enqueued(now=now + timedelta(seconds=41))
    finally:
        signals.message_retried.disconnect(on_retried)
    assert last.state == State.DONE
    assert result.get(timeout=0) == 3
    assert retried == [1, 2]
    stored = get_queue().get(result.id)
    assert [entry["outcome"] for entry in stored.attempt_errors] == [
        "retried",
        "retried",
    ]


def test_a_failure_is_recorded(backend):
    result = fail("no")
    [ran] = run_enqueued()
    assert ran.state == State.FAILED
    assert "no" in ran.error
    assert get_queue().get(result.id).state == State.FAILED


def test_unique_keys_deduplicate(backend):
    with capture_enqueued() as outbox:
        add.using(unique_key="sum")(1, 2)
        add.using(unique_key="sum")(1, 2)
        # A write deferred to commit (Redis) is made, and counted, here.
        ran = run_enqueued()
    assert len(outbox) == 1
    assert [m.id for m in ran] == [outbox[0].id]


def test_outbox_fixture_holds_this_tests_messages(djqueue_outbox, djqueue_run):
    add(2, 3)
    [entry] = djqueue_outbox
    assert djqueue_outbox.commands() == [entry.command]
    assert "add" in entry.command
    assert entry.call() == ((2, 3), {})
    assert [m.state for m in djqueue_run()] == [State.DONE]


def test_outbox_fixture_starts_empty(djqueue_outbox):
    assert list(djqueue_outbox) == []


@pytest.mark.django_db(transaction=True)
def test_the_testing_pages_test_cases_pass(monkeypatch):
    """docs/testing.rst's examples run as written: its TestCases, and its
    pytest test given the plugin's fixtures."""
    import io
    import sys
    import unittest

    from testproject import reports
    from testproject.reports import commands, models
    from tests.test_quickstart import BLOCK, ROOT

    monkeypatch.setitem(sys.modules, "reports", reports)
    monkeypatch.setitem(sys.modules, "reports.models", models)
    monkeypatch.setitem(sys.modules, "reports.commands", commands)
    page = ROOT / "docs" / "testing.rst"
    namespace: dict = {"__name__": "testing_page"}
    for match in BLOCK.finditer(page.read_text()):
        lines = match["body"].rstrip("\n").split("\n")
        code = "\n".join(line[4:] for line in lines) + "\n"
        exec(compile(code, str(page), "exec"), namespace)
    cases = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and issubclass(value, unittest.TestCase)
        and value.__module__ == "testing_page"
    ]
    suite = unittest.TestSuite(
        unittest.defaultTestLoader.loadTestsFromTestCase(case) for case in cases
    )
    outcome = unittest.TextTestRunner(stream=io.StringIO()).run(suite)

    assert [case.__name__ for case in cases] == [
        "LaterTests",
        "MemoryQueueTests",
        "OutboxTests",
    ]
    assert (outcome.testsRun, outcome.failures, outcome.errors) == (3, [], [])

    assert namespace["pytest_plugins"] == ["djqueue.testing.pytest"]
    with capture_enqueued() as outbox:
        fixtures = {"djqueue_outbox": outbox, "djqueue_run": run_enqueued}
        namespace["test_count"](db=None, **fixtures)
    assert len(outbox) == 1
