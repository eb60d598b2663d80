"""Each failed attempt's error is kept with the message, bounded, in order.

Messages run in an in-process ``run_queue --burst`` on every backend; the
stored message is read back from the queue.
"""

from datetime import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.consumer.execution import Outcome
from djqueue.consumer.outcomes import record_attempt_error, store_outcome
from djqueue.envelope.message import MAX_ATTEMPT_ERRORS, MAX_TRACEBACK_CHARS
from testproject.demo import commands
from testproject.demo.models import Run

from .factories import make_message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


def run_queue():
    call_command("run_queue", "--burst", verbosity=0)


def test_retries_keep_each_attempts_error_until_the_message_is_done():
    started = timezone.now()
    result = commands.flaky("f")

    run_queue()

    message = get_queue().get(result.id)
    assert message.state == State.DONE
    assert [e["attempt"] for e in message.attempt_errors] == [1, 2]
    assert [e["exception"] for e in message.attempt_errors] == [
        "builtins.RuntimeError"
    ] * 2
    assert [e["error"] for e in message.attempt_errors] == [
        "RuntimeError: f: attempt 1 fails",
        "RuntimeError: f: attempt 2 fails",
    ]
    for entry in message.attempt_errors:
        assert entry["traceback"].startswith("Traceback (most recent call last):")
        assert entry["traceback"].rstrip().endswith(entry["error"])
    moments = [datetime.fromisoformat(e["at"]) for e in message.attempt_errors]
    assert started <= moments[0] <= moments[1] <= message.finished_at


def test_only_the_last_attempts_errors_are_kept():
    result = commands.fail_every_time("twelve")

    run_queue()

    message = get_queue().get(result.id)
    assert Run.objects.filter(message_id=result.id).count() == 12
    assert message.state == State.FAILED
    kept = list(range(12 - MAX_ATTEMPT_ERRORS + 1, 13))
    assert [e["attempt"] for e in message.attempt_errors] == kept
    assert message.attempt_errors[-1]["error"] == (
        "RuntimeError: twelve: attempt 12 fails"
    )
    assert message.error == message.attempt_errors[-1]["error"]


def test_a_long_traceback_is_kept_by_its_end():
    result = commands.fail("x" * 50_000 + " the end")

    run_queue()

    (entry,) = get_queue().get(result.id).attempt_errors
    assert len(entry["traceback"]) == MAX_TRACEBACK_CHARS + 1
    assert entry["traceback"].startswith("…")
    assert entry["traceback"].rstrip().endswith("x the end")


def test_a_retry_from_the_admin_keeps_the_history_and_counts_again_from_one():
    result = commands.fail("once")
    run_queue()
    queue = get_queue()
    (first,) = queue.get(result.id).attempt_errors

    assert queue.retry(result.id)
    assert queue.get(result.id).attempt_errors == [first]
    run_queue()

    kept = queue.get(result.id).attempt_errors
    assert [e["attempt"] for e in kept] == [1, 1]
    assert kept[0] == first
    assert kept[1]["started_at"] > first["started_at"]


def test_recording_an_outcome_again_does_not_add_an_entry():
    """The consumer retries storing an outcome; the error is recorded once."""
    message = make_message()
    message.attempts = 1
    outcome = Outcome(State.FAILED, error="E: x", exception="m.E", traceback="t")

    record_attempt_error(message, outcome, timezone.now())
    record_attempt_error(message, outcome, timezone.now())

    assert [e["attempt"] for e in message.attempt_errors] == [1]


@pytest.mark.parametrize("backend", ["database"], indirect=True)
def test_a_failed_attempt_is_stored_by_the_failure_alone(django_assert_num_queries):
    """On a DatabaseQueue (the only backend of this test: it counts its
    queries), the entry travels in the failure's own statement: no query
    more."""
    queue = get_queue()
    queue.write(make_message())
    [leased] = queue.claim("w", 30)
    outcome = Outcome(State.FAILED, error="E: x", exception="m.E", traceback="t")

    with django_assert_num_queries(1):
        assert store_outcome(queue, leased, outcome)

    (entry,) = queue.get(leased.id).attempt_errors
    assert (entry["worker"], entry["outcome"]) == ("w", "failed")
