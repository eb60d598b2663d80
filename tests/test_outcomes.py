"""Storing an outcome while the backend fails: tries with backoff until the
lease would end, then gives up (the message runs again); on an injected
clock, so nothing here sleeps."""

import logging

import pytest

from djqueue.consumer.execution import Outcome
from djqueue.consumer.outcomes import keep_trying, record_outcome
from djqueue.states import State

from .factories import make_message


class Clock:
    """A monotonic clock that only sleeping moves."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class Failing:
    """A store that fails ``times`` times, then answers ``value``."""

    def __init__(self, times, value=True):
        self.times, self.value, self.calls = times, value, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.times:
            raise ConnectionError(f"refused ({self.calls})")
        return self.value


def test_tries_with_backoff_until_answered_and_says_when_that_try_began():
    clock, errors, stored = Clock(), [], []
    answered, value = keep_trying(
        Failing(4, "kept"), lambda n: f"store (try {n})", clock() + 30, clock,
        lambda what, exc: errors.append((what, str(exc))), stored.append,
        sleep=clock.sleep,
    )  # fmt: skip
    assert (answered, value) == (True, "kept")
    assert clock.slept == [0.1, 0.2, 0.4, 0.8]
    assert errors == [(f"store (try {n})", f"refused ({n})") for n in range(1, 5)]
    assert stored == [pytest.approx(1001.5)]


def test_gives_up_when_the_next_try_would_begin_after_the_deadline():
    clock, stored = Clock(), []
    store = Failing(100)
    answered, value = keep_trying(
        store, str, clock() + 5, clock, lambda what, exc: None, stored.append,
        sleep=clock.sleep,
    )  # fmt: skip
    assert (answered, value) == (False, None)
    # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s; the next wait (2 s) would pass 5 s.
    assert clock.slept == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert store.calls == 6
    assert stored == []


def test_stops_at_once_when_asked():
    clock = Clock()
    store = Failing(100)
    answered, _ = keep_trying(
        store, str, clock() + 60, clock, lambda what, exc: None, lambda s: None,
        stop=lambda: store.calls >= 2, sleep=clock.sleep,
    )  # fmt: skip
    assert not answered
    assert store.calls == 2
    assert clock.slept == [0.1]


class FailingQueue:
    """Acks fail ``times`` times, then answer ``kept``."""

    name = "default"

    def __init__(self, times, kept=True):
        self.ack = lambda *args, **kwargs: self._store(kept)
        self.failures = Failing(times)

    def _store(self, kept):
        self.failures()
        return kept


def done(message):
    return Outcome(State.DONE, result="null", value=None)


def test_record_outcome_warns_with_one_traceback_then_stores(caplog):
    clock, message = Clock(), make_message("tests.c")
    caplog.set_level(logging.WARNING, logger="djqueue.consumer")
    assert record_outcome(
        FailingQueue(3), message, done(message), clock() + 30, clock,
        sleep=clock.sleep,
    )  # fmt: skip
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"Cannot record the outcome of message {message.id} (try {n}); retrying"
        for n in (1, 2, 3)
    ]
    assert [bool(r.exc_info) for r in warnings] == [True, False, False]


def test_record_outcome_gives_up_and_says_the_message_runs_again(caplog):
    clock, message = Clock(), make_message("tests.c")
    caplog.set_level(logging.WARNING, logger="djqueue.consumer")
    assert not record_outcome(
        FailingQueue(100), message, done(message), clock() + 2, clock,
        sleep=clock.sleep,
    )  # fmt: skip
    assert caplog.records[-1].getMessage() == (
        f"Gave up recording the outcome of message {message.id}; it will run "
        "again when its lease expires"
    )


def test_record_outcome_refused_says_the_lease_was_lost(caplog):
    clock, message = Clock(), make_message("tests.c")
    caplog.set_level(logging.WARNING, logger="djqueue.consumer")
    assert not record_outcome(
        FailingQueue(0, kept=False), message, done(message), clock() + 30, clock,
        sleep=clock.sleep,
    )  # fmt: skip
    assert "lost its lease" in caplog.records[-1].getMessage()
