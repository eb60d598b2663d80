"""Retry policies, Retry from a command, and the dead letter, on each backend."""

from datetime import UTC, datetime, timedelta

import pytest

from djqueue import ExponentialBackoff, State, get_queue
from djqueue.consumer import Consumer
from djqueue.envelope.retries import (
    delay_for,
    encode_exceptions,
    encode_policy,
    matches,
)
from testproject.demo import commands
from testproject.demo.models import Run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


class FakeNow:
    """A wall clock the test moves by hand."""

    def __init__(self):
        self.moment = datetime.now(UTC)

    def __call__(self):
        return self.moment

    def advance(self, seconds):
        self.moment += timedelta(seconds=seconds)


def burst(now):
    Consumer(["default"], 1, burst=True, now=now).run()


def test_fails_twice_then_runs_at_its_intervals_and_ends_done():
    now = FakeNow()
    result = commands.fails_twice("intervals")
    start = now()

    burst(now)
    first = result.message
    assert (first.state, first.attempts) == (State.SCHEDULED, 1)
    assert first.eta == start + timedelta(seconds=10)
    assert first.error == "ConnectionError: attempt 1 fails"

    now.advance(9.9)
    burst(now)
    assert Run.objects.count() == 1

    now.advance(0.2)
    burst(now)
    second = result.message
    assert (second.state, second.attempts) == (State.SCHEDULED, 2)
    assert second.eta == now() + timedelta(seconds=30)

    now.advance(30.1)
    burst(now)

    assert result.get(timeout=0) == 3
    assert list(Run.objects.order_by("attempt").values_list("attempt", flat=True)) == [
        1,
        2,
        3,
    ]


def test_retry_on_limits_retries_to_the_named_exceptions():
    value, connection = commands.fails_with("value"), commands.fails_with("connection")
    now = FakeNow()

    burst(now)

    assert value.status == State.FAILED
    assert value.message.attempts == 1
    assert connection.status == State.FAILED
    assert connection.message.attempts == 6


def test_a_command_can_ask_for_a_retry_with_its_own_delay():
    now = FakeNow()
    result = commands.asks_to_retry(delay=42)

    burst(now)

    message = result.message
    assert message.state == State.SCHEDULED
    assert message.eta == now() + timedelta(seconds=42)
    now.advance(43)
    burst(now)
    assert result.get(timeout=0) == "second time"


def test_the_dead_letter_keeps_the_reason_and_can_be_retried():
    now = FakeNow()
    result = commands.fail("dead")
    burst(now)
    failed = get_queue().get(result.id)
    assert failed.state == State.FAILED
    assert failed.error == "ValueError: dead"
    assert "ValueError: dead" in failed.traceback
    assert failed.worker
    assert failed.attempts == 1

    assert get_queue().retry(result.id)

    assert get_queue().get(result.id).attempts == 0
    burst(now)
    assert get_queue().get(result.id).attempts == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (5, [5, 5, 5]),
        ([10, 30, 60], [10, 30, 60, 60]),
        (ExponentialBackoff(first=2, cap=10, jitter=False), [2, 4, 8, 10, 10]),
    ],
)
def test_delays_by_attempt(policy, expected):
    encoded = encode_policy(policy)
    assert [delay_for(encoded, n) for n in range(1, len(expected) + 1)] == expected


def test_jitter_stays_between_half_and_all_of_the_delay():
    encoded = encode_policy(ExponentialBackoff(first=8, cap=100))
    assert delay_for(encoded, 1, draw=lambda: 0.0) == 4
    assert delay_for(encoded, 1, draw=lambda: 1.0) == 8


@pytest.mark.parametrize("policy", [-1, [], ["10"], "soon", True])
def test_bad_policies_are_refused(policy):
    with pytest.raises(TypeError, match="retry_delay must be"):
        encode_policy(policy)


def test_exception_matching_follows_the_class_hierarchy_without_imports():
    names = encode_exceptions((OSError,))
    assert matches(ConnectionError("x"), names)
    assert not matches(ValueError("x"), names)
    assert matches(ValueError("x"), None)
    with pytest.raises(TypeError):
        encode_exceptions(("ValueError",))
