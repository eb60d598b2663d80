"""A backend for Django's tasks framework (``django.tasks``, Django 6.0+, or
its backport ``django_tasks`` on Django 5.2).

``TASKS = {"default": {"BACKEND": "djqueue.contrib.tasks.DjqueueBackend",
"QUEUES": ["default"]}}`` makes ``@task`` functions run on djqueue's queues:
the same messages, the same ``run_queue``, retries and the dead letter from
``OPTIONS``. ``QUEUES`` name djqueue queues. Building the backend touches no
database or Redis server: tasks are created at import time.
"""

from __future__ import annotations

import inspect
import traceback as tb
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.apps import apps
from django.core import checks

if TYPE_CHECKING:
    # Type-checked against the backport (typed, and what the Python 3.11
    # lint environment has): django.tasks has the same names.
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import (
        Task,
        TaskContext,
        TaskError,
        TaskResult,
        TaskResultStatus,
    )
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started
    from django_tasks.utils import normalize_json

else:
    try:
        from django.tasks.backends.base import BaseTaskBackend
        from django.tasks.base import (
            Task,
            TaskContext,
            TaskError,
            TaskResult,
            TaskResultStatus,
        )
        from django.tasks.exceptions import TaskResultDoesNotExist
        from django.tasks.signals import task_enqueued, task_finished, task_started
        from django.utils.json import normalize_json
    except ImportError:  # Django 5.2 with the django-tasks backport
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import (
            Task,
            TaskContext,
            TaskError,
            TaskResult,
            TaskResultStatus,
        )
        from django_tasks.exceptions import TaskResultDoesNotExist
        from django_tasks.signals import task_enqueued, task_finished, task_started
        from django_tasks.utils import normalize_json

from ...commands.command import QueueCommand
from ...commands.options import CommandOptions
from ...context import current_message
from ...envelope.codec import decode_call_arguments, decode_result
from ...envelope.history import attempt_history
from ...envelope.message import Message
from ...exceptions import CommandNotFound, DecodeError, UnstorableResult
from ...states import State

T = TypeVar("T")
#: OPTIONS keys passed on to every task's messages, as command options.
COMMAND_OPTIONS = ("retries", "retry_delay", "result_ttl", "timeout")

_STATUS = {
    State.SCHEDULED: TaskResultStatus.READY,
    State.QUEUED: TaskResultStatus.READY,
    State.RUNNING: TaskResultStatus.RUNNING,
    State.DONE: TaskResultStatus.SUCCESSFUL,
    State.FAILED: TaskResultStatus.FAILED,
    State.CANCELLED: TaskResultStatus.FAILED,
    State.EXPIRED: TaskResultStatus.FAILED,
}


class DjqueueBackend(BaseTaskBackend):
    """Run ``django.tasks`` tasks on djqueue queues."""

    # Tasks can wait until run_after.
    supports_defer = True
    # Coroutine functions run to completion in the worker.
    supports_async_task = True
    # Results are stored and can be fetched from any process.
    supports_get_result = True
    # Higher priorities run first, -100 to 100.
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        unknown = set(self.options) - set(COMMAND_OPTIONS)
        self._unknown_options = sorted(unknown)
        self.command_options = {
            key: value for key, value in self.options.items() if key in COMMAND_OPTIONS
        }

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        from ...conf import queue_configs

        errors: list[checks.CheckMessage] = []
        configured = set(queue_configs())
        for name in sorted(self.queues - configured):
            errors.append(
                checks.Error(
                    f"TASKS[{self.alias!r}] names the queue {name!r}, which djqueue "
                    "does not configure.",
                    hint=f"Configure it in QUEUES or use one of {sorted(configured)}.",
                    id="djqueue.E030",
                )
            )
        if self._unknown_options:
            errors.append(
                checks.Error(
                    f"TASKS[{self.alias!r}]['OPTIONS'] has unknown keys "
                    f"{self._unknown_options}.",
                    hint=f"The known keys are {list(COMMAND_OPTIONS)}.",
                    id="djqueue.E031",
                )
            )
        return errors

    def enqueue(self, task: Task[..., T], args: Any, kwargs: Any) -> TaskResult[T]:
        """Store one call of ``task`` and return its result.

        Arguments must be what Django's tasks framework allows (JSON types;
        tuples become lists): others raise ``TypeError`` or ``ValueError``
        and nothing is written. The task receives the normalized values, as
        on Django's own backends.
        """
        from ...commands.enqueue import store_call

        self.validate_task(task)
        args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        command = task_command(task, self.command_options)
        message = store_call(
            command, tuple(args), kwargs, extra_options={"django_task": self.alias}
        )
        result = self._result(task, message)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult[Any]:
        """Find the result in this backend's queues (every configured queue
        when ``QUEUES`` is empty, which lets tasks use any queue). Names
        djqueue does not configure hold nothing; check() reports them."""
        from ...backends.handler import get_queue
        from ...conf import queue_configs

        configured = set(queue_configs())
        names = self.queues & configured if self.queues else configured
        for queue_name in sorted(names):
            message = get_queue(queue_name).get(result_id)
            if message is not None and message.options.get("django_task"):
                return self._result(load_task(message.command), message)
        raise TaskResultDoesNotExist(result_id)

    def _result(self, task: Task[..., T], message: Message) -> TaskResult[T]:
        return task_result(task, message, self.alias)


def task_command(
    task: Task[..., Any], options: dict[str, Any]
) -> QueueCommand[..., Any]:
    """Return an unregistered command that runs ``task`` for djqueue.

    Its signature leaves out the ``context`` argument of tasks that take
    one; the worker passes the context itself.
    """
    command_options = CommandOptions(
        queue=task.queue_name, priority=task.priority, eta=task.run_after, **options
    )
    command = QueueCommand(_runner(task), task.module_path, command_options)
    signature = inspect.signature(task.func)
    if task.takes_context:
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    command.signature = signature
    command._parameter_names = tuple(signature.parameters)
    return command


def _runner(task: Task[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        # The worker runs this inside running(message).
        message = cast(Message, current_message())
        result = task_result(
            task, message, message.options["django_task"], running=True
        )
        sender = type(task.get_backend())
        task_started.send(sender, task_result=result)
        try:
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = task.call(*args, **kwargs)
        except BaseException as exc:
            _finish_failed(sender, result, exc)
            raise
        try:
            value = normalize_json(value)
        except (TypeError, ValueError, RecursionError) as exc:
            # A return value Django's framework cannot store fails the task,
            # at once: running it again would repeat its side effects.
            _finish_failed(sender, result, exc)
            raise UnstorableResult(
                "the task returned a value Django's tasks framework cannot store"
            ) from exc
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        task_finished.send(sender, task_result=result)
        return value

    return run


def _finish_failed(
    sender: type[BaseTaskBackend], result: TaskResult[Any], exc: BaseException
) -> None:
    object.__setattr__(result, "status", TaskResultStatus.FAILED)
    result.errors.append(_error(type(exc), "".join(tb.format_exception(exc))))
    task_finished.send(sender, task_result=result)


def load_task(module_path: str) -> Task[..., Any]:
    """Return the Task the project defines at ``module_path``; raise
    ``CommandNotFound``.

    Only a module of an installed app is ever imported, so a stored name
    cannot make a worker import anything else, and what it names there must
    be a Task defined under that very name (not an alias of another).
    """
    module_name, _, attribute = module_path.rpartition(".")
    if not any(
        module_name == config.name or module_name.startswith(f"{config.name}.")
        for config in apps.get_app_configs()
    ):
        raise CommandNotFound(
            f"{module_path!r} is not in a module of an installed app; "
            "django.tasks messages run only tasks the project defines"
        )
    try:
        task = getattr(import_module(module_name), attribute, None)
    except Exception as exc:  # the module's import can raise anything
        raise CommandNotFound(
            f"cannot import the module of the task {module_path!r}: {exc!r}"
        ) from None
    if not isinstance(task, Task) or task.module_path != module_path:
        raise CommandNotFound(f"{module_path!r} is not a django.tasks Task")
    return task


def resolve(message: Message) -> QueueCommand[..., Any]:
    """The command that runs a message enqueued through this backend."""
    return task_command(load_task(message.command), {})


def task_result(
    task: Task[..., T], message: Message, alias: str, running: bool = False
) -> TaskResult[T]:
    """Describe a djqueue message as Django's TaskResult."""
    try:
        args, kwargs = decode_call_arguments(message)
    except DecodeError:
        args, kwargs = [], {}
    errors = [_stored_error(entry) for entry in message.attempt_errors]
    result: TaskResult[T] = TaskResult(
        task=task,
        id=message.id,
        status=TaskResultStatus.RUNNING if running else _STATUS[message.state],
        enqueued_at=message.enqueued_at,
        started_at=message.started_at,
        finished_at=message.finished_at,
        last_attempted_at=message.started_at,
        args=args,
        kwargs=kwargs,
        backend=alias,
        errors=errors,
        worker_ids=_worker_ids(message),
    )
    if message.state == State.DONE and not running:
        object.__setattr__(result, "_return_value", decode_result(message))
    return result


def _worker_ids(message: Message) -> list[str]:
    """The worker id of each attempt made so far (since the last retry from
    the admin, which counts attempts from 1 again); an attempt the history
    no longer keeps (only the last ones are) gets the latest worker's."""
    history = attempt_history(message)
    since = max((i for i, a in enumerate(history) if a.after_reset), default=0)
    workers = {a.number: a.worker for a in history[since:]}
    return [
        workers.get(number) or message.worker
        for number in range(1, message.attempts + 1)
    ]


def _error(kind: type, traceback: str) -> TaskError:
    return TaskError(
        exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
        traceback=traceback,
    )


def _stored_error(entry: dict[str, Any]) -> TaskError:
    """The TaskError of one of a message's ``attempt_errors``."""
    return TaskError(
        exception_class_path=str(entry.get("exception") or "builtins.Exception"),
        traceback=str(entry.get("traceback") or entry.get("error", "")),
    )
