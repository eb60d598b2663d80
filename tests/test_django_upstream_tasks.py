"""Django's own tasks tests, run against ``DjqueueBackend`` on each backend.

The test cases of Django's ``tests/tasks/`` that are not about one built-in
backend are subclassed with ``TASKS["default"]`` on djqueue's backend (their
other aliases stay as Django sets them) and run on ``DatabaseQueue``,
``RedisQueue`` on fakeredis and ``RedisQueue`` on a real server. Each
``LEFT_OUT`` table names the tests that do not apply, and why. The test
files come from Django's source distribution (``scripts/fetch-django-tests``)
and are never committed; without them this module is skipped, or fails in
CI.
"""

import copy

import pytest
from django.conf import settings
from django.test import TransactionTestCase, override_settings

pytest.importorskip("django.tasks", reason="django.tasks needs Django 6.0 or newer")

from . import django_upstream
from .django_upstream import BurstBackend, InspectableBackend, queue_kinds

test_tasks, test_dummy_backend, test_immediate_backend = django_upstream.load(
    "test_tasks", "test_dummy_backend", "test_immediate_backend"
)

IS_DUMMY = "asserts that the backend is Django's DummyBackend"
IS_IMMEDIATE = "asserts that the backend is Django's ImmediateBackend"
OWN_TASKS = "replaces TASKS with the built-in backend it is about"

#: Tests of test_tasks.TaskTestCase left out, and why.
TASK_LEFT_OUT = {
    "test_using_correct_backend": IS_DUMMY,
    "test_get_backend": IS_DUMMY,
    "test_module_path": (
        "asserts the module path that Django's own test runner gives the test "
        "files (tasks.tasks); here they are the package django_upstream_tasks"
    ),
    "test_task_error_invalid_exception": "enqueues on the ImmediateBackend alias only",
    "test_task_error_unknown_module": "enqueues on the ImmediateBackend alias only",
}

#: Tests of test_tasks.TaskTestCase left out on DatabaseQueue only, and why.
TASK_LEFT_OUT_ON_DATABASE = {
    "test_refresh_result": (
        "calls the synchronous refresh() in a coroutine, where Django refuses "
        "database queries (SynchronousOnlyOperation)"
    ),
}

#: Tests of test_dummy_backend.DummyBackendTestCase left out, and why.
DUMMY_LEFT_OUT = {
    "test_using_correct_backend": IS_DUMMY,
    "test_refresh_result": (
        "changes a result in DummyBackend's in-memory list, then refreshes it"
    ),
    "test_refresh_result_async": (
        "changes a result in DummyBackend's in-memory list, then refreshes it"
    ),
    "test_validate_on_enqueue": OWN_TASKS,
    "test_validate_on_aenqueue": OWN_TASKS,
}

#: Tests of test_immediate_backend.ImmediateBackendTestCase left out, and why.
IMMEDIATE_LEFT_OUT = {
    "test_using_correct_backend": IS_IMMEDIATE,
    "test_cannot_get_result": "ImmediateBackend keeps no results; djqueue does",
    "test_cannot_refresh_result": "ImmediateBackend keeps no results; djqueue does",
    "test_cannot_pass_run_after": "ImmediateBackend cannot defer; djqueue can",
    "test_throws_keyboard_interrupt": (
        "ImmediateBackend lets a task's KeyboardInterrupt reach the caller; "
        "on djqueue a worker runs the task, and the interrupt fails that run"
    ),
    "test_validate_on_enqueue": OWN_TASKS,
    "test_validate_on_aenqueue": OWN_TASKS,
}


def run_against(upstream, backend, left_out, left_out_on_database=None):
    """Return subclasses of ``upstream``, one per queue kind, whose
    ``TASKS["default"]`` is ``backend`` and which leave out ``left_out``
    (and ``left_out_on_database`` on DatabaseQueue)."""
    tasks = copy.deepcopy(upstream._overridden_settings["TASKS"])
    tasks["default"]["BACKEND"] = f"{backend.__module__}.{backend.__qualname__}"
    installed = [*settings.INSTALLED_APPS, django_upstream.PACKAGE]
    classes = {}
    for kind, mixin in queue_kinds().items():
        name = f"{upstream.__name__.removesuffix('TestCase')}On{kind}"
        attrs = {"__module__": __name__, "__qualname__": name}
        attrs.update(dict.fromkeys(left_out))  # None is not collected
        if kind == "DatabaseQueue":
            attrs.update(dict.fromkeys(left_out_on_database or ()))
        cls = type(name, (mixin, upstream, TransactionTestCase), attrs)
        classes[name] = override_settings(
            TASKS=tasks, QUEUES=mixin.queues(), INSTALLED_APPS=installed
        )(cls)
    return classes


globals().update(
    run_against(
        test_tasks.TaskTestCase,
        InspectableBackend,
        TASK_LEFT_OUT,
        TASK_LEFT_OUT_ON_DATABASE,
    )
)
globals().update(
    run_against(
        test_dummy_backend.DummyBackendTestCase, InspectableBackend, DUMMY_LEFT_OUT
    )
)
globals().update(
    run_against(
        test_immediate_backend.ImmediateBackendTestCase,
        BurstBackend,
        IMMEDIATE_LEFT_OUT,
    )
)
