"""Django's tasks framework on djqueue: enqueue, run_queue --burst, refresh."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

pytest.importorskip(
    "tests.tasks_framework",
    reason="the tasks framework needs Django 6.0+, or django-tasks on Django 5.2",
)

from djqueue import get_queue
from testproject.demo import tasks
from testproject.demo.models import Run

from .tasks_framework import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
    default_task_backend,
    task_enqueued,
    task_finished,
    task_started,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]


def run_queue():
    call_command("run_queue", "--burst", verbosity=0)


def test_the_backend_declares_what_it_supports():
    backend = default_task_backend
    assert backend.supports_defer
    assert backend.supports_priority
    assert backend.supports_get_result
    assert backend.supports_async_task
    assert backend.check() == []


def test_enqueue_run_refresh_success():
    result = tasks.multiply.enqueue(6, 7)
    assert result.status == TaskResultStatus.READY
    assert result.args == [6, 7]

    run_queue()
    result.refresh()

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42
    assert result.attempts == 1
    assert result.finished_at >= result.started_at >= result.enqueued_at
    fetched = tasks.multiply.get_result(result.id)
    assert fetched.return_value == 42


def test_a_failure_is_reported_with_the_exception_path():
    result = tasks.explode.enqueue()

    run_queue()
    result.refresh()

    assert result.status == TaskResultStatus.FAILED
    assert result.errors[-1].exception_class_path == "builtins.KeyError"
    assert result.errors[-1].exception_class is KeyError
    assert "no such thing" in result.errors[-1].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018


def test_run_after_defers_the_task():
    result = tasks.multiply.using(
        run_after=timezone.now() + timedelta(hours=1)
    ).enqueue(1, 1)

    run_queue()
    result.refresh()

    assert result.status == TaskResultStatus.READY
    assert get_queue().get(result.id).state == "scheduled"


def test_priorities_run_higher_first():
    for label, priority in [("low", -10), ("high", 90), ("mid", 0)]:
        tasks.note.using(priority=priority).enqueue(label)

    call_command("run_queue", "--burst", "-c", "1", verbosity=0)

    assert list(Run.objects.order_by("id").values_list("label", flat=True)) == [
        "high",
        "mid",
        "low",
    ]


def test_async_tasks_run_to_completion():
    result = tasks.sleepy_sum.enqueue(2, 3)
    run_queue()
    result.refresh()
    assert result.return_value == 5


def test_context_reports_the_attempt_and_retries_come_from_options():
    result = tasks.second_time_lucky.enqueue("ctx")

    run_queue()
    result.refresh()

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"attempt": 2, "id": result.id}
    assert result.attempts == 2
    # The first attempt's error stays, although the task then succeeded.
    (error,) = result.errors
    assert error.exception_class is RuntimeError
    assert "RuntimeError: ctx: attempt 1" in error.traceback


def test_worker_ids_name_the_consumer_of_each_attempt():
    from djqueue.consumer.execution import Outcome
    from djqueue.consumer.outcomes import store_outcome
    from djqueue.states import State

    result = tasks.second_time_lucky.enqueue("ids")
    assert result.worker_ids == []
    queue = get_queue(result.task.queue_name)
    [first] = queue.claim("web1:4242", 30)
    retried = Outcome(State.SCHEDULED, error="E: x", eta=timezone.now())
    assert store_outcome(queue, first, retried)

    call_command("run_queue", "--burst", "--worker-id", "web2:77", verbosity=0)
    result.refresh()

    assert result.attempts == 2
    assert result.worker_ids == ["web1:4242", "web2:77"]


def test_signals_are_sent_with_task_results():
    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append((kwargs["signal"], task_result.status))

    for signal in (task_enqueued, task_started, task_finished):
        signal.connect(receiver)
    try:
        tasks.multiply.enqueue(2, 2)
        run_queue()
    finally:
        for signal in (task_enqueued, task_started, task_finished):
            signal.disconnect(receiver)
    assert seen == [
        (task_enqueued, TaskResultStatus.READY),
        (task_started, TaskResultStatus.RUNNING),
        (task_finished, TaskResultStatus.SUCCESSFUL),
    ]


def test_unknown_results_and_queues():
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result("01a20bd1-0000-7000-8000-000000000000")
    with pytest.raises(InvalidTask, match="not valid for backend"):
        tasks.multiply.using(queue_name="elsewhere").enqueue(1, 2)


def test_aenqueue_aget_result_and_arefresh():
    from asgiref.sync import async_to_sync

    result = async_to_sync(tasks.multiply.aenqueue)(3, 3)
    run_queue()

    async def fetch():
        fetched = await tasks.multiply.aget_result(result.id)
        await result.arefresh()
        return fetched

    fetched = async_to_sync(fetch)()
    assert fetched.return_value == result.return_value == 9


def test_arguments_django_cannot_carry_raise_and_nothing_is_written():
    with pytest.raises(TypeError, match="Unsupported type"):
        tasks.multiply.enqueue(timezone.now(), 2)
    assert len(get_queue()) == 0


def test_tasks_receive_and_return_the_values_django_normalizes():
    result = tasks.describe.enqueue((1, 2), nested={"pair": (3, 4)})
    assert result.args == [[1, 2]]

    run_queue()
    result.refresh()

    assert result.return_value == ["list", "list"]


def test_a_return_value_django_cannot_store_fails_at_once():
    """The test project's TASKS allow a retry; an unstorable return value
    never gets it, so the task's side effect happens once."""
    finished = []

    def receiver(sender, task_result, **kwargs):
        finished.append(task_result.status)

    task_finished.connect(receiver)
    try:
        result = tasks.unstorable.enqueue("unstorable")
        run_queue()
    finally:
        task_finished.disconnect(receiver)
    result.refresh()

    assert Run.objects.filter(label="unstorable").count() == 1
    assert finished == [TaskResultStatus.FAILED]
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 1
    (error,) = result.errors
    assert error.exception_class is TypeError
    assert "Unsupported type" in error.traceback
    assert "cannot be stored" in get_queue().get(result.id).error


def test_errors_hold_one_entry_per_failed_attempt_in_order(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "djqueue.contrib.tasks.DjqueueBackend",
            "QUEUES": ["default"],
            "OPTIONS": {"retries": 2},
        }
    }
    result = tasks.always_fails.enqueue("again")

    run_queue()
    result.refresh()

    runs = Run.objects.filter(message_id=result.id).order_by("id")
    assert list(runs.values_list("attempt", flat=True)) == [1, 2, 3]
    assert result.status == TaskResultStatus.FAILED
    assert [error.exception_class for error in result.errors] == [ValueError] * 3
    assert [error.traceback.strip().splitlines()[-1] for error in result.errors] == [
        f"ValueError: again: attempt {attempt} fails" for attempt in (1, 2, 3)
    ]
    assert tasks.always_fails.get_result(result.id).errors == result.errors


def test_without_queues_results_are_found_in_every_queue(settings):
    settings.TASKS = {
        "default": {"BACKEND": "djqueue.contrib.tasks.DjqueueBackend", "QUEUES": []}
    }
    result = tasks.multiply.enqueue(2, 5)

    run_queue()

    assert tasks.multiply.get_result(result.id).return_value == 10


def test_a_queue_djqueue_does_not_configure_holds_no_results(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "djqueue.contrib.tasks.DjqueueBackend",
            "QUEUES": ["default", "not-configured"],
        }
    }
    result = tasks.multiply.enqueue(1, 1)

    assert default_task_backend.get_result(result.id).args == [1, 1]
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result("01a20bd1-0000-7000-8000-000000000000")
