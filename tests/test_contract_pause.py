"""The BaseQueue contract for pausing, on every backend and server.

A paused queue keeps its flag in the store, with who paused it, when and
why, for every consumer to read; writing goes on while it is paused, and
only the consumer declines to claim (see tests/test_pause_consumer.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from djqueue.backends.pausing import MAX_BY_LENGTH, MAX_REASON_LENGTH, Pause

from .factories import make_message

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 3, 14, 0, 5, 123000, tzinfo=UTC)


def test_backends_declare_pause(queue):
    assert queue.supports_pause is True


def test_a_new_queue_is_not_paused(queue):
    assert queue.pause_state() is None
    assert queue.resume() is None


def test_pause_is_kept_with_who_when_and_why(queue):
    pause = queue.pause("alice", "deploying the mailer", now=MOMENT)

    assert pause == Pause("alice", MOMENT, "deploying the mailer")
    assert queue.pause_state() == pause


def test_every_instance_of_the_queue_sees_the_pause(queue, other_queue):
    """Another instance of the same queue (another consumer) reads it;
    another queue of the same store is not paused by it."""
    twin = type(queue)(queue.name, queue.connection, **queue.options)
    if getattr(queue, "_client", None) is not None:
        twin._client = queue._client

    queue.pause("alice", now=MOMENT)

    assert twin.pause_state() == Pause("alice", MOMENT, "")
    assert other_queue.pause_state() is None


def test_pausing_a_paused_queue_keeps_the_first_pause(queue):
    first = queue.pause("alice", "first", now=MOMENT)

    again = queue.pause("bob", "second")

    assert again == first
    assert queue.pause_state() == first


def test_resume_returns_the_pause_it_ended(queue):
    pause = queue.pause("alice", "why", now=MOMENT)

    assert queue.resume() == pause
    assert queue.pause_state() is None
    assert queue.resume() is None


def test_a_queue_paused_again_after_resume_has_the_new_pause(queue):
    queue.pause("alice", now=MOMENT)
    queue.resume()

    later = queue.pause("bob", "again", now=MOMENT + timedelta(minutes=5))

    assert later == Pause("bob", MOMENT + timedelta(minutes=5), "again")
    assert queue.pause_state() == later


def test_writes_go_on_while_paused(queue):
    """Enqueueing still works: the message waits, queued, to be claimed
    once the queue is resumed (the claim itself is the consumer's to skip)."""
    queue.pause("alice")
    message = make_message()

    queue.write(message)

    assert len(queue) == 1
    assert queue.get(message.id).state == "queued"


def test_flush_forgets_the_pause(queue):
    queue.pause("alice")

    queue.flush()

    assert queue.pause_state() is None


@pytest.mark.parametrize(
    ("by", "reason", "fix"),
    [
        ("", "", "'by' cannot be empty"),
        ("  ", "", "'by' cannot be empty"),
        ("x" * (MAX_BY_LENGTH + 1), "", f"shorten it to {MAX_BY_LENGTH}"),
        ("alice", "x" * (MAX_REASON_LENGTH + 1), f"shorten it to {MAX_REASON_LENGTH}"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_paused(queue, by, reason, fix):
    with pytest.raises(ValueError, match=fix):
        queue.pause(by, reason)

    assert queue.pause_state() is None


def test_the_longest_accepted_input_is_kept_whole(queue):
    by, reason = "b" * MAX_BY_LENGTH, "r" * MAX_REASON_LENGTH

    queue.pause(by, reason, now=MOMENT)

    assert queue.pause_state() == Pause(by, MOMENT, reason)
