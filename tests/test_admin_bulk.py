"""The admin's bulk actions, the filtered purge and the confirmed delete, on
every backend (``backend`` fixture: DatabaseQueue, RedisQueue on fakeredis
and on a real Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.test import Client
from django.utils import timezone

from djqueue import get_queue
from djqueue.states import State

from .admin_helpers import ALL_PERMS, admin_url, fail_many, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(backend):
    return get_queue()


@pytest.fixture
def operator(client, django_user_model):
    client.force_login(staff_user(django_user_model, "operator", *ALL_PERMS))
    return client


def bulk_url(state: str) -> str:
    return admin_url("bulk", "default", state)


def entries():
    return list(
        LogEntry.objects.order_by("pk").values_list(
            "object_id", "action_flag", "object_repr"
        )
    )


def confirm_and_run(client, state: str, data: dict):
    """Post a list's selection, then confirm it and follow the progress
    pages; return the confirmation page, the number of steps and the last
    response (the redirect back to the list)."""
    page = client.post(bulk_url(state), data)
    assert page.status_code == 200, page.content
    response = client.post(bulk_url(state), page.context["hidden"])
    steps = 1
    while response.status_code == 200:
        assert "data-djq-continue" in response.text
        response = client.post(bulk_url(state), response.context["hidden"])
        steps += 1
        assert steps < 50
    assert response.status_code == 302
    return page, steps, response


def messages_in(queue, state: str, count: int = 0, **fields):
    """Write ``count`` messages that end up in ``state``; return their ids."""
    if state == "failed":
        return fail_many(queue, [fields.get("command", "tests.a")] * count)
    later = timezone.now() + timedelta(hours=1)
    written = [
        make_message(
            fields.get("command", "tests.a"),
            eta=later if state == "scheduled" else None,
        )
        for _ in range(count)
    ]
    queue.write_many(written)
    ids = [message.id for message in written]
    if state == "cancelled":
        assert queue.change_messages("cancel", State.QUEUED, ids) == count
    if state == "running":
        assert len(queue.claim("w", 30, limit=count)) == count
    return ids


CASES = [
    ("retry", "failed", State.QUEUED, "Retried 2 failed messages on queue default"),
    ("delete", "failed", None, "Deleted 2 failed messages on queue default"),
    ("retry", "cancelled", State.QUEUED, "Retried 2 cancelled messages"),
    ("cancel", "queued", State.CANCELLED, "Cancelled 2 queued messages"),
    ("delete", "queued", None, "Deleted 2 queued messages"),
    ("run_now", "scheduled", State.QUEUED, "Made 2 scheduled messages on queue"),
    ("cancel", "scheduled", State.CANCELLED, "Cancelled 2 scheduled messages"),
    ("delete", "running", None, "Deleted 2 running messages"),
]


@pytest.mark.parametrize(("action", "state", "after", "words"), CASES)
def test_bulk_action_on_picked_messages(operator, queue, action, state, after, words):
    """The confirmation page names the picked messages and changes
    nothing; confirming changes them alone, with one log entry."""
    ids = messages_in(queue, state, 3)
    picked, other = ids[:2], ids[2]

    page, steps, response = confirm_and_run(
        operator, state, {"action": action, "scope": "picked", "ids": picked}
    )

    assert page.context["count"] == 2
    assert [message_id for message_id, _ in page.context["shown"]] == picked
    assert all(message_id in page.text for message_id in picked)
    assert steps == 1
    assert response["Location"] == admin_url("list", "default", state)
    assert [None if (m := queue.get(i)) is None else m.state for i in picked] == [
        after,
        after,
    ]
    assert queue.get(other).state == state
    [(object_id, flag, text)] = entries()
    assert (object_id, flag) == (
        f"default:{state}",
        DELETION if action == "delete" else CHANGE,
    )
    assert text.startswith(words)


def test_confirmation_page_changes_nothing_and_warns_for_running(operator, queue):
    ids = messages_in(queue, "running", 2)
    page = operator.post(
        bulk_url("running"), {"action": "delete", "scope": "picked", "ids": ids}
    )
    assert "a running message belongs to its worker" in page.text
    assert [queue.get(i).state for i in ids] == [State.RUNNING] * 2
    assert entries() == []


def test_bulk_action_on_every_message_of_a_command_steps(operator, queue, monkeypatch):
    """With steps of two, retrying every failed message of one command
    takes several requests, each showing the progress, and one log entry."""
    monkeypatch.setattr("djqueue.admin.bulk.STEP", 2)
    mine = fail_many(queue, ["tests.a", "tests.b"] * 3 + ["tests.a", "tests.a"])
    data = {"action": "retry", "scope": "all", "command": "tests.a"}

    page, steps, response = confirm_and_run(operator, "failed", data)

    assert page.context["count"] == 8  # the failed messages of the queue
    assert page.context["more"] == 8 - len(page.context["shown"])
    assert "every Failed message of tests.a" in page.text
    assert steps >= 3
    assert response["Location"] == admin_url("list", "default", "failed") + (
        "?command=tests.a"
    )
    states = {i: queue.get(i) for i in mine}
    assert sorted((m.command, m.state) for m in states.values()) == sorted(
        [("tests.a", State.QUEUED)] * 5 + [("tests.b", State.FAILED)] * 3
    )
    assert entries() == [
        (
            "default:failed:tests.a",
            CHANGE,
            "Retried 5 failed messages of tests.a on queue default",
        )
    ]


def test_every_message_shows_the_first_ones_and_how_many_more(operator, queue):
    messages_in(queue, "queued", 14)
    page = operator.post(bulk_url("queued"), {"action": "cancel", "scope": "all"})
    assert page.context["count"] == 14
    assert len(page.context["shown"]) == 10
    assert "and 4 more" in page.text
    assert queue.counts()[State.QUEUED] == 14


def test_a_message_that_changed_since_the_confirmation_is_left_alone(operator, queue):
    """Retried by someone else and running now: the bulk retry of the
    failed messages confirmed before leaves it alone and says so."""
    ids = fail_many(queue, ["tests.a"] * 3)
    page = operator.post(
        bulk_url("failed"), {"action": "retry", "scope": "picked", "ids": ids}
    )
    assert queue.retry(ids[0])
    [running] = queue.claim("w", 30)
    assert running.id == ids[0]

    response = operator.post(bulk_url("failed"), page.context["hidden"], follow=True)

    assert "1 picked message was no longer failed" in response.text
    assert queue.get(ids[0]).state == State.RUNNING
    assert [queue.get(i).state for i in ids[1:]] == [State.QUEUED] * 2
    assert entries()[0][2] == "Retried 2 failed messages on queue default"


def test_a_bulk_delete_does_not_delete_a_message_that_started_running(operator, queue):
    ids = messages_in(queue, "queued", 1)
    page = operator.post(bulk_url("queued"), {"action": "delete", "scope": "all"})
    queue.claim("w", 30)
    operator.post(bulk_url("queued"), page.context["hidden"])
    assert queue.get(ids[0]).state == State.RUNNING
    assert entries() == []


def test_the_list_offers_the_actions_of_its_state_and_permissions(
    client, django_user_model, queue
):
    fail_many(queue, ["tests.a"])
    retrier = staff_user(django_user_model, "r", "view_message", "retry_message")
    client.force_login(retrier)
    page = client.get(admin_url("list", "default", "failed"))
    assert page.context["bulk_actions"] == ["retry"]
    assert 'name="ids"' in page.text
    assert bulk_url("failed") in page.text
    viewer = staff_user(django_user_model, "v", "view_message")
    client.force_login(viewer)
    page = client.get(admin_url("list", "default", "failed"))
    assert page.context["bulk_actions"] == []
    assert bulk_url("failed") not in page.text


# -- Forged requests ---------------------------------------------------------


def test_bulk_actions_need_a_post(operator, queue):
    ids = fail_many(queue, ["tests.a"])
    response = operator.get(bulk_url("failed"), {"action": "retry", "ids": ids})
    assert response.status_code == 405
    assert queue.get(ids[0]).state == State.FAILED


def test_bulk_actions_need_a_csrf_token(django_user_model, queue, operator):
    ids = fail_many(queue, ["tests.a"])
    page = operator.post(
        bulk_url("failed"), {"action": "retry", "scope": "picked", "ids": ids}
    )
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user(django_user_model, "op2", *ALL_PERMS))
    for data in ({"action": "retry", "ids": ids}, page.context["hidden"]):
        assert strict.post(bulk_url("failed"), data).status_code == 403
    assert queue.get(ids[0]).state == State.FAILED


def test_bulk_actions_need_their_permission(client, django_user_model, queue):
    """A user who may retry cannot delete, neither by posting a selection
    nor by replaying a confirmed one of someone who may."""
    ids = fail_many(queue, ["tests.a"])
    admin = staff_user(django_user_model, "admin", superuser=True)
    client.force_login(admin)
    page = client.post(
        bulk_url("failed"), {"action": "delete", "scope": "picked", "ids": ids}
    )
    token = page.context["hidden"]
    retrier = staff_user(django_user_model, "r", "view_message", "retry_message")
    client.force_login(retrier)
    data = {"action": "delete", "scope": "picked", "ids": ids}
    assert client.post(bulk_url("failed"), data).status_code == 403
    assert client.post(bulk_url("failed"), token).status_code in (400, 403)
    assert queue.get(ids[0]).state == State.FAILED
    assert entries() == []


@pytest.mark.parametrize(
    "forge",
    [
        "tampered",
        "other_user",
        "other_state",
        "unconfirmed",
        "bad_id",
        "too_many",
        "wrong_action",
    ],
)
def test_forged_selections_are_refused(
    operator, django_user_model, client, queue, forge
):
    ids = fail_many(queue, ["tests.a"] * 2)
    page = operator.post(
        bulk_url("failed"), {"action": "delete", "scope": "picked", "ids": ids[:1]}
    )
    data, url = dict(page.context["hidden"]), bulk_url("failed")
    if forge == "tampered":
        token = data["token"]
        data["token"] = token[:5] + ("y" if token[5] == "x" else "x") + token[6:]
    elif forge == "other_user":
        other = Client()
        other.force_login(staff_user(django_user_model, "other", *ALL_PERMS))
        assert other.post(url, data).status_code == 400
        data = None
    elif forge == "other_state":
        url = bulk_url("cancelled")
    elif forge == "unconfirmed":
        del data["confirm"]
    elif forge == "bad_id":
        data = {"action": "delete", "scope": "picked", "ids": [ids[0], "x' or 1=1"]}
    elif forge == "too_many":
        fake = [str(make_message("x").id) for _ in range(51)]
        data = {"action": "delete", "scope": "picked", "ids": fake}
    elif forge == "wrong_action":
        data = {"action": "run_now", "scope": "picked", "ids": ids}
    if data is not None:
        assert operator.post(url, data).status_code == 400
    assert [queue.get(i).state for i in ids] == [State.FAILED] * 2
    assert entries() == []


# -- Purge and delete ----------------------------------------------------------


def test_purge_honours_the_command_filter(operator, queue):
    ids = fail_many(queue, ["tests.a", "tests.b", "tests.a"])
    listing = operator.get(
        admin_url("list", "default", "failed"), {"command": "tests.a"}
    )
    purge = admin_url("purge", "default", "failed") + "?command=tests.a"
    assert purge in listing.text
    page = operator.get(purge)
    assert page.status_code == 200
    assert "every Failed message of tests.a" in page.text
    response = operator.post(bulk_url("failed"), page.context["hidden"])
    assert response.status_code == 302
    assert [queue.get(i) is None for i in ids] == [True, False, True]
    assert entries() == [
        (
            "default:failed:tests.a",
            DELETION,
            "Deleted 2 failed messages of tests.a on queue default",
        )
    ]


def test_a_filtered_purge_needs_the_purge_permission(client, django_user_model, queue):
    ids = fail_many(queue, ["tests.a"])
    deleter = staff_user(django_user_model, "d", "view_message", "delete_message")
    client.force_login(deleter)
    purge = admin_url("purge", "default", "failed") + "?command=tests.a"
    assert client.get(purge).status_code == 403
    assert queue.get(ids[0]).state == State.FAILED


def test_deleting_a_running_message_warns_and_asks(operator, queue):
    [message_id] = messages_in(queue, "running", 1)
    url = admin_url("action", "default", message_id, "delete")
    page = operator.post(url)
    assert page.status_code == 200
    assert "a running message belongs to its worker" in page.text
    assert page.context["hidden"] == {"confirm": "yes", "state": "running"}
    assert queue.get(message_id).state == State.RUNNING
    operator.post(url, page.context["hidden"])
    assert queue.get(message_id) is None


def test_a_confirmed_delete_leaves_a_message_that_started_running(operator, queue):
    [message_id] = messages_in(queue, "queued", 1)
    url = admin_url("action", "default", message_id, "delete")
    page = operator.post(url)
    queue.claim("w", 30)
    response = operator.post(url, page.context["hidden"], follow=True)
    assert "it is Running now, no longer Queued" in response.text
    assert queue.get(message_id).state == State.RUNNING
    assert entries() == []


def test_a_backend_without_inspection_offers_no_bulk_actions(
    settings, client, django_user_model
):
    from .test_minimal_backend import BACKEND

    settings.QUEUES = {"default": {"BACKEND": BACKEND, "OPTIONS": {"ON_COMMIT": False}}}
    client.force_login(staff_user(django_user_model, "op", *ALL_PERMS))
    listing = client.get(admin_url("list", "default", "failed"))
    assert listing.context["bulk_actions"] == []
    data = {"action": "retry", "scope": "all"}
    response = client.post(bulk_url("failed"), data, follow=True)
    assert "not supported by its backend" in response.text


def test_acting_on_every_message_stops_at_the_number_confirmed(operator, queue):
    """Messages that join the state after the confirmation page counted it
    do not make the action change more than it said."""
    messages_in(queue, "queued", 3)
    page = operator.post(bulk_url("queued"), {"action": "cancel", "scope": "all"})
    assert page.context["count"] == 3
    messages_in(queue, "queued", 2)
    operator.post(bulk_url("queued"), page.context["hidden"])
    counts = queue.counts()
    assert (counts[State.CANCELLED], counts[State.QUEUED]) == (3, 2)
    assert entries()[0][2] == "Cancelled 3 queued messages on queue default"
