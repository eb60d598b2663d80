"""@queue_command, the registry, enqueueing and the result handle."""

import inspect
import re
import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from djqueue import (
    CommandFailed,
    MessageNotFound,
    ResultTimeout,
    SerializationError,
    State,
    UnknownQueue,
    get_queue,
    queue_command,
    registry,
)
from djqueue.consumer.execution import decode_call_arguments
from djqueue.exceptions import CommandNotFound, DuplicateCommand
from testproject.demo import commands
from testproject.demo.models import Report

pytestmark = pytest.mark.django_db


def test_autodiscovery_registered_the_demo_commands():
    assert "testproject.demo.commands.add" in registry
    assert registry.get("testproject.demo.commands.add") is commands.add


def test_calling_a_command_enqueues_and_returns_a_handle():
    result = commands.add(2, 3)

    assert result.status == State.QUEUED
    assert not result.ready()
    message = get_queue().get(result.id)
    assert message.command == "testproject.demo.commands.add"
    assert message.priority == 0
    assert message.options["result_ttl"] == 24 * 60 * 60


def test_call_local_runs_in_process():
    assert commands.add.call_local(2, 3) == 5
    assert len(get_queue()) == 0


def test_decorator_options_and_per_call_overrides():
    report = Report.objects.create(title="t")
    assert commands.churn_data.options.priority == 5

    moment = timezone.now()
    with mock.patch("djqueue.commands.building.timezone.now", return_value=moment):
        result = commands.churn_data.using(priority=9, delay=60)(report)

    message = get_queue().get(result.id)
    assert message.priority == 9
    assert message.state == State.SCHEDULED
    assert message.eta == moment + timedelta(seconds=60)
    assert message.options["result_ttl"] == 3600
    assert commands.churn_data.options.priority == 5


def test_a_timedelta_delay_is_given_in_seconds_at_decoration():
    @queue_command(name="tests.commands.delayed", delay=timedelta(minutes=2))
    def delayed():
        pass

    try:
        assert delayed.options.delay == 120.0
    finally:
        registry.unregister(delayed.name)


@override_settings(TIME_ZONE="Asia/Kolkata")
def test_naive_eta_is_read_in_the_current_time_zone():
    """A naive eta of 12:00 means 12:00 in TIME_ZONE (06:30 UTC), not UTC."""
    naive = datetime(2099, 1, 1, 12, 0)
    message = get_queue().get(commands.add.using(eta=naive)(1, 1).id)
    assert message.eta == datetime(2099, 1, 1, 6, 30, tzinfo=UTC)


def test_a_call_that_does_not_match_the_signature_raises_and_writes_nothing():
    with pytest.raises(
        TypeError, match=r"Cannot enqueue testproject\.demo\.commands\.add"
    ):
        commands.add(1, 2, 3)
    assert len(get_queue()) == 0


def test_an_unserializable_argument_raises_and_writes_nothing():
    with pytest.raises(SerializationError, match=r"argument 'b' \(object\)"):
        commands.add(1, object())
    assert len(get_queue()) == 0


def test_an_unknown_queue_raises_and_writes_nothing():
    with pytest.raises(UnknownQueue, match="No queue is named 'nowhere'"):
        commands.add.using(queue="nowhere")(1, 2)
    assert sum(get_queue().counts().values()) == 0


def test_bad_options_are_refused_at_decoration():
    with pytest.raises(TypeError, match="priority must be an integer"):
        queue_command(priority="high")(lambda: None)
    with pytest.raises(ValueError, match="retries must be at least 0"):
        queue_command(name="x.y", retries=-1)(lambda: None)


def test_nested_functions_need_an_explicit_name():
    def inner():
        pass

    with pytest.raises(TypeError, match="defined inside a function"):
        queue_command(inner)


def test_two_functions_under_one_name_is_an_error_naming_both():
    def first():
        pass

    def second():
        pass

    queue_command(name="tests.clash")(first)
    try:
        with pytest.raises(DuplicateCommand) as caught:
            queue_command(name="tests.clash")(second)
        assert "first" in str(caught.value)
        assert "second" in str(caught.value)
    finally:
        registry.unregister("tests.clash")


def test_registry_lookup_of_an_unknown_name_explains():
    with pytest.raises(CommandNotFound, match="INSTALLED_APPS"):
        registry.get("no.such.command")


def test_map_enqueues_in_bulk():
    results = commands.add.map([(1, 2), {"a": 3, "b": 4}])
    queue = get_queue()
    stored = [queue.get(result.id) for result in results]
    assert [decode_call_arguments(message) for message in stored] == [
        ([1, 2], {}),
        ([], {"a": 3, "b": 4}),
    ]
    assert {m.command for m in stored} == {"testproject.demo.commands.add"}
    assert len(queue) == 2


def test_map_checks_every_call_before_writing_any():
    with pytest.raises(TypeError):
        commands.add.map([(1, 2), (1,)])
    assert len(get_queue()) == 0


def test_enqueue_in_a_rolled_back_transaction_leaves_nothing():
    seen_inside = []

    def enqueue_then_roll_back():
        with transaction.atomic():
            result = commands.add(1, 2)
            seen_inside.append(get_queue().get(result.id))
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        enqueue_then_roll_back()
    (inside,) = seen_inside
    assert inside is not None
    assert get_queue().get(inside.id) is None
    assert len(get_queue()) == 0


def test_result_get_times_out_while_pending():
    result = commands.add(1, 2)
    with pytest.raises(ResultTimeout, match="still queued"):
        result.get(timeout=0.05)


def test_result_get_of_an_unknown_message():
    from djqueue import Result

    with pytest.raises(MessageNotFound):
        Result("00000000-0000-0000-0000-000000000000", "default").get(timeout=0)


@override_settings(QUEUE_IMMEDIATE=True)
def test_immediate_mode_runs_inline_through_the_serializer():
    report = Report.objects.create(title="t", words=10)
    result = commands.churn_data(report)
    assert result.ready()
    assert result.get() == {"report": report.pk, "churned": 15}
    assert len(get_queue()) == 0
    with pytest.raises(SerializationError):
        commands.add(1, object())


@override_settings(QUEUE_IMMEDIATE=True)
def test_immediate_mode_reports_failures_on_get():
    result = commands.fail("inline")
    assert result.status == State.FAILED
    with pytest.raises(CommandFailed, match="ValueError: inline"):
        result.get()


def test_priorities_are_limited_to_the_tasks_framework_range():
    with pytest.raises(ValueError, match="between -100 and 100"):
        commands.add.using(priority=101)
    assert commands.add.using(priority=-100).options.priority == -100


def test_message_ids_made_in_a_row_sort_in_order():
    from djqueue.envelope.message import new_message_id

    ids = [new_message_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5000
    assert {i[14] for i in ids} == {"7"}
    parsed = [uuid.UUID(i) for i in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert [str(u) for u in parsed] == ids


def _plain(a, b, c=3, d=4):
    pass


def _varargs(a, *rest, key=1, **extra):
    pass


@pytest.mark.parametrize("func", [_plain, _varargs])
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}), ((1,), {}), ((1, 2), {}), ((1, 2, 3, 4), {}), ((1, 2, 3, 4, 5), {}),
        ((1,), {"b": 2}), ((), {"a": 1, "b": 2, "d": 5}), ((1,), {"a": 1, "b": 2}),
        ((1, 2), {"e": 5}), ((), {"b": 2, "c": 3}), ((1,), {"key": 2}),
    ],
)  # fmt: skip
def test_check_call_agrees_with_signature_bind(func, args, kwargs):
    """The quick check of a call accepts and refuses what bind() does."""
    from djqueue.commands.command import CommandOptions, QueueCommand

    command = QueueCommand(func, "tests.shape", CommandOptions())
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        with pytest.raises(TypeError, match=re.escape(str(exc))):
            command.check_call(args, kwargs)
    else:
        command.check_call(args, kwargs)
