"""The bulk changes of the inspection contract (``change_messages`` and
``change_scan``, what the admin's bulk actions call): every backend, on
every server, passes them, with its own implementation and with the
defaults of :class:`~djqueue.backends.inspection.Inspection`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue.backends.inspection import Inspection
from djqueue.states import State

from .factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["own", "default"])
def change(request, queue):
    """The queue's bulk calls: its own, or the base class's defaults."""
    if request.param == "own":
        return queue
    return DefaultChanges(queue)


class DefaultChanges:
    """Calls the defaults of ``Inspection`` on a real queue."""

    def __init__(self, queue):
        self.queue = queue

    def change_messages(self, *args, **kwargs):
        return Inspection.change_messages(self.queue, *args, **kwargs)

    def change_scan(self, *args, **kwargs):
        return Inspection.change_scan(self.queue, *args, **kwargs)


def failed(queue, commands) -> list[str]:
    """Write one message per command and fail them all, oldest first."""
    messages = [make_message(command) for command in commands]
    queue.write_many(messages)
    claimed = {each.id: each for each in queue.claim("w", 30, limit=len(messages))}
    start = timezone.now() - timedelta(minutes=5)
    for step, message in enumerate(messages):
        assert queue.fail(claimed[message.id], "boom", now=start + timedelta(0, step))
    return [message.id for message in messages]


def states(queue, ids):
    return [None if m is None else m.state for m in map(queue.get, ids)]


def test_change_messages_changes_only_those_still_in_the_state(queue, change):
    ids = failed(queue, ["a", "a", "a"])
    queue.write(make_message("r"))
    [claimed] = queue.claim("w", 30)
    assert queue.retry(ids[0])
    unknown = str(make_message("x").id)

    count = change.change_messages(
        "retry", State.FAILED, [*ids, claimed.id, unknown, "not-an-id"]
    )

    assert count == 2
    assert states(queue, ids) == [State.QUEUED, State.QUEUED, State.QUEUED]
    assert queue.get(claimed.id).state == State.RUNNING
    assert queue.get(ids[1]).attempts == 0


def test_change_messages_does_not_delete_a_message_that_started_running(queue, change):
    message = make_message("a")
    queue.write(message)
    queue.claim("w", 30)

    assert change.change_messages("delete", State.QUEUED, [message.id]) == 0
    assert queue.get(message.id).state == State.RUNNING
    assert change.change_messages("delete", State.RUNNING, [message.id]) == 1
    assert queue.get(message.id) is None


def test_change_messages_cancels_and_runs_now(queue, change):
    later = timezone.now() + timedelta(hours=1)
    scheduled = [make_message("s", eta=later) for _ in range(3)]
    queue.write_many(scheduled)
    ids = [message.id for message in scheduled]

    assert change.change_messages("run_now", State.SCHEDULED, ids[:2]) == 2
    assert change.change_messages("cancel", State.SCHEDULED, ids) == 1
    assert states(queue, ids) == [State.QUEUED, State.QUEUED, State.CANCELLED]
    assert change.change_messages("cancel", State.QUEUED, ids) == 2
    assert states(queue, ids) == [State.CANCELLED] * 3
    assert change.change_messages("cancel", State.QUEUED, []) == 0


@pytest.mark.parametrize(
    ("action", "state"),
    [("retry", State.QUEUED), ("cancel", State.FAILED), ("run_now", State.QUEUED)],
)
def test_a_change_that_does_not_apply_to_the_state_is_refused(
    queue, change, action, state
):
    ids = failed(queue, ["a"])
    with pytest.raises(ValueError, match="does not apply"):
        change.change_messages(action, state, ids)
    with pytest.raises(ValueError, match="does not apply"):
        change.change_scan(action, state)
    assert states(queue, ids) == [State.FAILED]


def test_change_scan_reaches_every_match_in_bounded_steps(queue, change):
    """Retrying the failed messages of one command four at a time, each step
    from the cursor of the one before, retries each of them once and
    leaves the other command's alone."""
    commands = ["a", "b", "a"] * 9
    ids = failed(queue, commands)
    steps, cursor, total = 0, "", 0
    while True:
        step = change.change_scan("retry", State.FAILED, cursor, 4, command="a")
        assert step.changed <= 4
        total, cursor, steps = total + step.changed, step.cursor, steps + 1
        if not cursor:
            break
        assert steps < 20

    assert total == 18
    expected = [State.QUEUED if c == "a" else State.FAILED for c in commands]
    assert states(queue, ids) == expected
    assert all(m.attempts == 0 for m in map(queue.get, ids) if m.command == "a")


def test_change_scan_goes_past_a_rare_command(queue, change, monkeypatch):
    """With a scan limit of 20, a step may change nothing yet return a
    cursor; following it reaches the rare message beyond."""
    monkeypatch.setattr("djqueue.backends.base.INSPECT_SCAN_LIMIT", 20)
    base = timezone.now() - timedelta(minutes=1)
    plenty = [make_message("plenty", eta=base + timedelta(0, n)) for n in range(45)]
    rare = make_message("rare", eta=base + timedelta(seconds=60))
    queue.write_many([*plenty, rare])
    cursor, total = "", 0
    for _ in range(10):
        step = change.change_scan("cancel", State.QUEUED, cursor, 5, command="rare")
        total, cursor = total + step.changed, step.cursor
        if not cursor:
            break

    assert (total, cursor) == (1, "")
    assert queue.get(rare.id).state == State.CANCELLED
    assert queue.counts()[State.QUEUED] == 45


def test_change_scan_deletes_a_whole_state(queue, change):
    ids = failed(queue, ["a", "b"] * 5)
    queue.write(make_message("stays"))
    cursor, total = "", 0
    for _ in range(10):
        step = change.change_scan("delete", State.FAILED, cursor, 3)
        total, cursor = total + step.changed, step.cursor
        if not cursor:
            break

    assert total == 10
    assert states(queue, ids) == [None] * 10
    assert queue.counts()[State.QUEUED] == 1


def test_change_scan_refuses_a_cursor_no_step_returned(queue):
    failed(queue, ["a"])
    with pytest.raises(ValueError, match="not a cursor"):
        queue.change_scan("retry", State.FAILED, "nonsense")
    assert queue.get(queue.list_messages(State.FAILED)[0].id).state == State.FAILED
