"""The BaseQueue contract for writes: a message reads back the same whichever
way it was written (``write``, ``write_many``, a command's ``map()``), and
claims come in the same order.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.envelope.message import new_message_id
from djqueue.states import State
from testproject.demo import commands

from .factories import make_message

pytestmark = pytest.mark.django_db

LEASE = 30


def _varied_messages():
    """Messages that differ in every part a backend stores."""
    now = timezone.now()
    standard = {
        "retries": 0,
        "result_ttl": 86400,
        "retry_delay": 0,
        "retry_on": None,
        "timeout": None,
    }
    return [
        make_message(args=(1,), options=dict(standard)),
        make_message(args=("x" * 500,), priority=7, options={}),
        make_message(
            kwargs={"a": [1, 2]},
            priority=-3,
            enqueued_at=now - timedelta(seconds=5),
            options={
                **standard,
                "retries": 3,
                "retry_delay": [1, 2.5],
                "retry_on": ["builtins.ValueError"],
                "timeout": 1.5,
                "django_task": "default",
            },
        ),
        # Equal to the standard options but for their types.
        make_message(options={**standard, "retries": 0.0, "timeout": False}),
        make_message(options={"result_ttl": 5}),
        make_message(eta=now + timedelta(hours=1), max_attempts=7),
        make_message(serializer="pickle", args=(2,)),
        make_message(args=(3,)),
    ]


def _with_keys(messages):
    messages[0].unique_key = "unique:one"
    messages[2].lock_key = "lock:two"
    messages[5].unique_key = "unique:later"
    return messages


def _stored_form(message):
    """Every part of a message, options with the types of their values."""
    parts = dataclasses.asdict(message)
    parts["options"] = json.dumps(message.options, sort_keys=True)
    return parts


def _clone(message):
    """The same message under a new id (the database queues share a table)."""
    return dataclasses.replace(
        message, id=new_message_id(), options=dict(message.options)
    )


def test_write_and_write_many_read_back_identically(queue, other_queue):
    """Every part of a message written by write() or by write_many() reads
    back through get() as it was written, options with their types."""
    singles = _with_keys(_varied_messages())
    batch = [_clone(message) for message in singles]
    for message in singles:
        queue.write(message)
    other_queue.write_many(batch)

    for written, copy in zip(singles, batch, strict=True):
        stored = _stored_form(queue.get(written.id))
        assert stored == _stored_form(written)
        assert _stored_form(other_queue.get(copy.id)) == {
            **stored,
            "id": copy.id,
            "queue": other_queue.name,
        }
    assert singles[5].state == State.SCHEDULED
    assert queue.get(singles[0].id).state == State.QUEUED


def test_write_and_write_many_claim_in_the_same_order(queue, other_queue):
    """Priority, then eta, then id, whichever way the messages were written;
    a claimed message reads as it was written, but for its lease."""
    now = timezone.now()
    made = [
        make_message(priority=priority, eta=now - timedelta(seconds=seconds))
        for priority, seconds in [(0, 1), (5, 0), (0, 3), (-2, 9), (5, 2), (0, 1)]
    ]
    made[1].lock_key = made[4].lock_key = "lock:shared"
    copies = [_clone(message) for message in made]
    for message in made:
        queue.write(message)
    other_queue.write_many(copies)
    # Equal scores fall back to the id: the copies' ids sort as the originals'.
    copy_of = {copy.id: message.id for message, copy in zip(made, copies, strict=True)}
    expected = sorted(made, key=lambda m: (-m.priority, m.eta, m.id))
    # The lock key holds back the second message of its key.
    expected = [m for m in expected if m is not made[1]]

    one = queue.claim("w", LEASE, limit=10)
    other = other_queue.claim("w", LEASE, limit=10)

    assert [m.id for m in one] == [m.id for m in expected]
    assert [copy_of[m.id] for m in other] == [m.id for m in expected]
    for claimed in one:
        written = next(m for m in made if m.id == claimed.id)
        lease = {"state", "attempts", "lease_token", "lease_expires_at"}
        lease |= {"worker", "started_at"}
        assert {k: v for k, v in _stored_form(claimed).items() if k not in lease} == {
            k: v for k, v in _stored_form(written).items() if k not in lease
        }


@pytest.mark.django_db(transaction=True)  # Redis writes wait for no commit
def test_map_reads_back_as_single_calls_do(backend):
    """A message written by map() reads back as one written by a single call
    of the same command, but for its id (and so signature) and times."""
    single = commands.flaky("one")
    mapped = commands.flaky.map(["one", "two"])
    queue = get_queue()
    times = {"id", "signature", "eta", "enqueued_at"}
    alone = _stored_form(queue.get(single.id))
    first, second = (_stored_form(queue.get(handle.id)) for handle in mapped)
    assert {k: v for k, v in first.items() if k not in times} == {
        k: v for k, v in alone.items() if k not in times
    }
    assert first["id"] == mapped[0].id
    assert second["id"] == mapped[1].id
    assert first["payload"] == alone["payload"] != second["payload"]
    assert [m.id for m in queue.claim("w", LEASE, limit=5)] == [
        single.id,
        mapped[0].id,
        mapped[1].id,
    ]


@pytest.mark.django_db(transaction=True)  # Redis writes wait for no commit
def test_map_honours_unique_keys_within_the_batch(backend):
    """Calls of one batch that share a unique key get the handle of the
    first; the others of the batch are written."""
    handles = commands.add.using(unique=True).map([(1, 2), (3, 4), (1, 2)])
    queue = get_queue()
    assert handles[0].id == handles[2].id != handles[1].id
    assert len(queue) == 2
    assert queue.get(handles[0].id).unique_key.startswith("auto:")
