"""What the app installs when it is ready: immediate mode in ``enqueue`` and
the resolver of django.tasks messages in the registry. The caller's and the
consumer's sides meet only through these, so that neither imports what sits
above it (see tests/test_import_graph.py)."""

import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from djqueue import State, registry
from djqueue.apps import resolve_django_task
from djqueue.commands import enqueue
from djqueue.consumer.execution import execute
from djqueue.consumer.immediate import run_inline
from djqueue.exceptions import CommandNotFound
from testproject.demo import commands

from .factories import make_message


def test_ready_installs_immediate_mode_and_the_django_tasks_resolver():
    assert enqueue._inline_runner is run_inline
    assert registry._resolvers["django_task"] is resolve_django_task


@override_settings(QUEUE_IMMEDIATE=True)
def test_immediate_mode_without_the_app_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(enqueue, "_inline_runner", None)
    with pytest.raises(ImproperlyConfigured, match="add 'djqueue' to INSTALLED_APPS"):
        commands.add(1, 2)


def test_a_django_tasks_message_runs_no_registered_command(monkeypatch):
    """Without its resolver, a message marked ``django_task`` fails; it never
    runs the registered command of the same name."""
    monkeypatch.setattr(registry, "_resolvers", {})
    message = make_message(
        "testproject.demo.commands.add", (1, 2), options={"django_task": "default"}
    )
    outcome = execute(message)
    assert outcome.state == State.FAILED
    assert outcome.error == (
        "cannot run: the message is marked 'django_task', and nothing here "
        "resolves such messages: is djqueue in INSTALLED_APPS?"
    )


def test_a_django_tasks_message_without_django_tasks_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "djqueue.contrib.tasks.backend", None)
    message = make_message(
        "testproject.demo.commands.add", (1, 2), options={"django_task": "default"}
    )
    with pytest.raises(CommandNotFound) as raised:
        resolve_django_task(message)
    assert str(raised.value).startswith(
        "the message was enqueued through django.tasks, which cannot be loaded "
        "here (ModuleNotFoundError: import of djqueue.contrib.tasks.backend halted; "
        "None in sys.modules): install django-tasks on Django 5.2"
    )
