"""The BaseQueue contract for the optional progress part, on every backend
and server.

``set_progress`` stores the text on a message whose lease is held, with the
check acks use, and refuses (changing nothing) once the lease is lost; the
progress is read back with the message, kept when it finishes, and cleared
when it goes back to wait for another attempt.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30
REPORT = '{"done":3,"total":10,"note":"row 3","meta":{"file":"a.csv"}}'


def leased(queue, **kwargs):
    queue.write(make_message(**kwargs))
    (message,) = queue.claim("w", LEASE)
    return message


def test_a_backend_with_the_part_says_so(queue):
    assert queue.supports_progress


def test_progress_is_stored_on_the_leased_message(queue):
    message = leased(queue)

    assert queue.get(message.id).progress == ""
    assert queue.set_progress(message, REPORT) is True

    assert queue.get(message.id).progress == REPORT
    assert queue.get(message.id).state == State.RUNNING


def test_a_later_write_replaces_the_earlier(queue):
    message = leased(queue)
    queue.set_progress(message, REPORT)

    assert queue.set_progress(message, '{"done":4}')

    assert queue.get(message.id).progress == '{"done":4}'


def test_a_write_under_a_lost_lease_is_refused(queue):
    """A worker whose lease expired must not overwrite a newer attempt's
    progress."""
    old = leased(queue, max_attempts=3)
    later = timezone.now() + timedelta(seconds=LEASE + 1)
    assert queue.reclaim_expired(now=later) == 1
    (new,) = queue.claim("w2", LEASE, now=later) or [
        queue.claim_suspect("w2", LEASE, now=later)
    ]
    queue.set_progress(new, '{"done":1}')

    assert queue.set_progress(old, REPORT) is False

    assert queue.get(new.id).progress == '{"done":1}'


def test_a_write_to_a_message_that_is_not_running_is_refused(queue):
    message = make_message()
    queue.write(message)

    assert queue.set_progress(message, REPORT) is False
    assert queue.get(message.id).progress == ""


@pytest.mark.parametrize("outcome", ["done", "failed"])
def test_progress_is_kept_when_the_message_finishes(queue, outcome):
    message = leased(queue)
    queue.set_progress(message, REPORT)

    if outcome == "done":
        assert queue.ack(message, "result", result_ttl=60)
    else:
        assert queue.fail(message, "Boom")

    assert queue.get(message.id).progress == REPORT
    assert queue.get(message.id).state == State(outcome)


def test_progress_is_kept_by_a_batch_of_acks(queue):
    message = leased(queue)
    queue.set_progress(message, REPORT)

    assert queue.ack_many([(message, "result", 60)]) == [True]

    assert queue.get(message.id).progress == REPORT


@pytest.mark.parametrize("way", ["retry_later", "release", "reclaim"])
def test_progress_is_cleared_when_the_message_waits_again(queue, way):
    message = leased(queue, max_attempts=3)
    queue.set_progress(message, REPORT)

    if way == "retry_later":
        assert queue.retry_later(message, timezone.now(), "Boom")
    elif way == "release":
        assert queue.release([message]) == 1
    else:
        later = timezone.now() + timedelta(seconds=LEASE + 1)
        assert queue.reclaim_expired(now=later) == 1

    stored = queue.get(message.id)
    assert stored.state == State.QUEUED
    assert stored.progress == ""


def test_a_retry_from_the_admin_clears_the_progress_of_a_failed_message(queue):
    message = leased(queue)
    queue.set_progress(message, REPORT)
    queue.fail(message, "Boom")

    assert queue.retry(message.id)

    assert queue.get(message.id).progress == ""


def test_a_message_failed_by_its_lost_worker_keeps_its_progress(queue):
    """It shows where the attempt was when its worker died."""
    message = leased(queue, max_attempts=1)
    queue.set_progress(message, REPORT)

    later = timezone.now() + timedelta(seconds=LEASE + 1)
    assert queue.reclaim_expired(now=later) == 1

    stored = queue.get(message.id)
    assert stored.state == State.FAILED
    assert stored.progress == REPORT


def test_lists_carry_the_progress(queue):
    message = leased(queue)
    queue.set_progress(message, REPORT)

    (listed,) = queue.list_messages(State.RUNNING)
    (scanned,) = queue.scan_messages(State.RUNNING).messages

    assert listed.progress == REPORT
    assert scanned.progress == REPORT
