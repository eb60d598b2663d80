"""Helpers shared by the admin tests: users, messages in each state, and
snapshots of a queue to prove that a page changed nothing."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from djqueue.consumer.execution import encode_result
from djqueue.states import State

from .factories import make_message

#: Every permission of djqueue's admin pages.
ALL_PERMS = (
    "view_message",
    "retry_message",
    "run_message",
    "cancel_message",
    "delete_message",
    "purge_queue",
    "pause_queue",
)


TRACEBACK = (
    'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: <b>boom</b>'
)


def staff_user(django_user_model, username, *codenames, superuser=False):
    """An active staff user holding the given djqueue permissions."""
    user = django_user_model.objects.create_user(
        username, password="secret-pw", is_staff=True, is_superuser=superuser
    )
    perms = Permission.objects.filter(
        content_type__app_label="djqueue", codename__in=codenames
    )
    assert perms.count() == len(codenames), codenames
    user.user_permissions.add(*perms)
    return user


def add_failed(
    queue,
    command="tests.fails",
    args=("<script>alert(1)</script>",),
    error="ValueError: <b>boom</b>",
    traceback=TRACEBACK,
):
    """Write a message and fail it as a worker would; other ready messages
    stay queued."""
    message = make_message(command, args, {"when": timezone.now()}, priority=50)
    queue.write(message)
    claimed = queue.claim("host:1:w0", 30, limit=1000)
    [mine] = [each for each in claimed if each.id == message.id]
    queue.release([each for each in claimed if each is not mine])
    assert queue.fail(mine, error, traceback)
    return message.id


def populate(queue) -> dict[State, str]:
    """One message in each state; return their ids by state."""
    ids = {}
    running = make_message("tests.runs", (1,))
    queue.write(running)
    [claimed] = queue.claim("host:1:w1", 30)
    assert claimed.id == running.id
    ids[State.RUNNING] = running.id
    done = make_message("tests.done", (2,))
    queue.write(done)
    [claimed] = queue.claim("host:1:w2", 30)
    result = encode_result(claimed, {"total": "<i>42</i>"})
    assert queue.ack(claimed, result, result_ttl=60)
    ids[State.DONE] = done.id
    ids[State.FAILED] = add_failed(queue)
    cancelled = make_message("tests.cancelled")
    queue.write(cancelled)
    assert queue.cancel(cancelled.id)
    ids[State.CANCELLED] = cancelled.id
    gone_by = timezone.now() - timedelta(seconds=1)
    expired = make_message("tests.expired", deadline=gone_by)
    queue.write(expired)
    assert queue.expire_due() == [expired.id]
    ids[State.EXPIRED] = expired.id
    later = timezone.now() + timedelta(hours=1)
    scheduled = make_message("tests.later", eta=later, priority=3)
    queue.write(scheduled)
    ids[State.SCHEDULED] = scheduled.id
    queued = make_message("tests.queued", ("a",), {"b": [1, 2]})
    queue.write(queued)
    ids[State.QUEUED] = queued.id
    return ids


def snapshot(queue) -> dict:
    """Everything the admin could change, for before/after comparisons."""
    state = {"counts": queue.counts()}
    for each in State:
        state[each] = [
            (m.id, m.state, m.attempts, m.eta, m.error, m.finished_at, m.result)
            for m in queue.list_messages(each, 0, 1000)
        ]
    return state


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:djqueue_messagerecord_{name}", args=args)


def fail_many(queue, commands) -> list[str]:
    """Write one message per command and fail them all, the first the
    oldest; return their ids in that order."""
    messages = [make_message(command) for command in commands]
    queue.write_many(messages)
    claimed = {each.id: each for each in queue.claim("w", 30, limit=len(messages))}
    start = timezone.now() - timedelta(minutes=5)
    for step, message in enumerate(messages):
        assert queue.fail(claimed[message.id], "boom", now=start + timedelta(0, step))
    return [message.id for message in messages]
