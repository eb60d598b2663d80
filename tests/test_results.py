"""The explicit verb, and a handle whose value, absence and failure differ."""

import uuid

import pytest

from djqueue import (
    CommandFailed,
    MessageNotFound,
    Result,
    ResultExpired,
    ResultNotReady,
    queue_command,
)
from djqueue.backends.handler import reset_queues
from djqueue.consumer import Consumer
from testproject.demo import commands

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


@queue_command(name="tests.results.returns_nothing")
def returns_nothing():
    return None


def test_enqueue_is_calling_the_command():
    result = commands.add.enqueue(2, b=3)

    assert result.enqueued
    assert result.status == "queued"
    Consumer(["default"], 1, burst=True).run()
    assert result.value == 5


def test_value_is_not_ready_before_the_run_and_none_after_it():
    result = returns_nothing.enqueue()

    with pytest.raises(ResultNotReady, match="still Queued"):
        result.value  # noqa: B018
    assert result.result is None
    assert not result.succeeded
    assert not result.failed
    Consumer(["default"], 1, burst=True).run()
    assert result.value is None
    assert result.succeeded
    assert not result.failed


def test_value_of_a_failed_or_cancelled_message_raises_command_failed():
    failed, cancelled = commands.fail("x"), commands.add.enqueue_in(600, 1, 1)
    assert cancelled.cancel()

    Consumer(["default"], 1, burst=True).run()

    for result in (failed, cancelled):
        assert result.failed
        assert not result.succeeded
        with pytest.raises(CommandFailed):
            result.value  # noqa: B018


def test_value_of_a_message_no_longer_stored_raises_result_expired():
    result = commands.add.using(result_ttl=0).enqueue(1, 2)
    Consumer(["default"], 1, burst=True).run()

    with pytest.raises(ResultExpired):
        result.value  # noqa: B018
    with pytest.raises(MessageNotFound):
        Result(result.id, "default").value  # noqa: B018


def test_from_id_finds_the_queue_that_holds_the_message(settings):
    plain = {"default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"}}
    default = getattr(settings, "QUEUES", plain)["default"]
    second = {**default, "OPTIONS": dict(default.get("OPTIONS", {}))}
    if "PREFIX" in second["OPTIONS"]:
        second["OPTIONS"]["PREFIX"] += "-second"
    settings.QUEUES = {"default": default, "second": second}
    reset_queues()
    try:
        result = commands.add.using(queue="second").enqueue(4, 4)
        found = Result.from_id(result.id)
        assert (found.id, found.queue) == (result.id, "second")
        assert found.status == "queued"
        with pytest.raises(MessageNotFound, match="searched default, second"):
            Result.from_id(str(uuid.uuid4()))
    finally:
        result.cancel()
        from djqueue import get_queue

        get_queue("second").flush()


def test_immediate_results_have_a_value(settings):
    settings.QUEUE_IMMEDIATE = True

    assert returns_nothing.enqueue().value is None
    ok, bad = commands.add.enqueue(1, 1), commands.fail("now")
    assert ok.value == 2
    assert ok.succeeded
    assert bad.failed
    with pytest.raises(CommandFailed):
        bad.value  # noqa: B018
