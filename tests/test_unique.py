"""Unique messages: one pending message per key, on each backend."""

import threading

import pytest
from django.db import connections

from djqueue import State, get_queue
from djqueue.consumer import Consumer
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


def test_ten_enqueues_with_one_key_leave_one_message():
    results = [commands.add.using(unique_key="report-42")(1, i) for i in range(10)]

    assert len({r.id for r in results}) == 1
    assert sum(get_queue().counts().values()) == 1
    Consumer(["default"], 1, burst=True).run()
    assert results[9].get(timeout=0) == 1  # the first call's arguments ran


def test_the_key_is_held_while_scheduled_and_running_then_released():
    scheduled = commands.add.using(unique_key="k", delay=3600)(1, 1)
    assert commands.add.using(unique_key="k")(2, 2).id == scheduled.id
    assert scheduled.cancel()

    queued = commands.add.using(unique_key="k")(3, 3)
    assert queued.id != scheduled.id
    get_queue().claim("w", 30)
    assert commands.add.using(unique_key="k")(4, 4).id == queued.id


def test_a_finished_message_releases_its_key():
    first = commands.add.using(unique_key="daily")(1, 1)
    Consumer(["default"], 1, burst=True).run()
    assert first.get(timeout=0) == 2

    second = commands.add.using(unique_key="daily")(2, 2)

    assert second.id != first.id
    assert second.status == State.QUEUED


def test_unique_true_derives_the_key_from_command_and_arguments():
    same = [commands.add.using(unique=True)(1, 2) for _ in range(3)]
    other = commands.add.using(unique=True)(2, 1)
    plain = commands.add(1, 2)

    assert len({r.id for r in same}) == 1
    assert other.id != same[0].id
    assert plain.id != same[0].id
    assert len(get_queue()) == 3


def test_concurrent_enqueues_with_one_key_leave_one_message():
    ids, barrier = [], threading.Barrier(8)

    def enqueue():
        barrier.wait(timeout=10)
        try:
            ids.append(commands.add.using(unique_key="race")(1, 1).id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(ids) == 8
    assert len(set(ids)) == 1
    assert sum(get_queue().counts().values()) == 1


def test_bad_keys_are_refused_at_the_call_site():
    with pytest.raises(TypeError, match="unique_key must be"):
        commands.add.using(unique_key="")
    with pytest.raises(TypeError, match="unique_key must be"):
        commands.add.using(unique_key="x" * 201)
