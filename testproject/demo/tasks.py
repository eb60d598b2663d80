"""Tasks written against Django's own tasks API (Django 6.0+, or the
django-tasks backport on Django 5.2)."""

import asyncio

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task

from .models import Run


@task
def multiply(a, b):
    return a * b


@task(priority=50)
def note(label):
    """Record a run, to check the order tasks run in."""
    Run.objects.create(message_id=label, attempt=1, pid=0, label=label)
    return label


@task
def explode():
    raise KeyError("no such thing")


@task
async def sleepy_sum(a, b):
    await asyncio.sleep(0.01)
    return a + b


@task(takes_context=True)
def second_time_lucky(context, label):
    """Fail on the first attempt; report the attempt number from the context."""
    if context.attempt < 2:
        raise RuntimeError(f"{label}: attempt {context.attempt}")
    return {"attempt": context.attempt, "id": context.task_result.id}


@task
def describe(value, *, nested):
    """Return the types the task received, as a tuple."""
    return (type(value).__name__, type(nested["pair"]).__name__)


@task
def unstorable(label):
    """Record a run, then return a value Django's tasks framework cannot store."""
    Run.objects.create(message_id=label, attempt=1, pid=0, label=label)
    return {"a", "set"}


@task(takes_context=True)
def always_fails(context, label):
    """Record a run, then fail, naming the attempt."""
    Run.objects.create(
        message_id=context.task_result.id, attempt=context.attempt, pid=0, label=label
    )
    raise ValueError(f"{label}: attempt {context.attempt} fails")
