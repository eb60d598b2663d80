"""The admin pages and actions, on every backend (``backend`` fixture:
DatabaseQueue, RedisQueue on fakeredis and on a real Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from djqueue import get_queue
from djqueue.backends.inspection import ConsumerInfo
from djqueue.models import MessageRecord
from djqueue.states import State

from .admin_helpers import (
    ALL_PERMS,
    add_failed,
    admin_url,
    populate,
    snapshot,
    staff_user,
)
from .factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(backend):
    return get_queue()


@pytest.fixture
def ids(queue):
    return populate(queue)


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    return client


@pytest.fixture
def operator(client, django_user_model):
    client.force_login(staff_user(django_user_model, "operator", *ALL_PERMS))
    return client


# -- Pages -------------------------------------------------------------------


def test_index_links_the_overview_for_viewers_only(client, django_user_model, db):
    """The admin index lists the queues for a user who may view them."""
    client.force_login(staff_user(django_user_model, "nobody"))
    assert admin_url("changelist") not in client.get("/admin/").text
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    assert admin_url("changelist") in client.get("/admin/").text


def test_overview_shows_counts_per_state_and_links(viewer, ids):
    """Each queue shows its count per state, each linking to its list."""
    response = viewer.get(admin_url("changelist"))
    assert response.status_code == 200
    [card] = response.context["cards"]
    assert card.name == "default"
    assert card.summary.counts == dict.fromkeys(State, 1)
    assert card.summary.oldest_queued_age is not None
    assert "Queue latency: <strong>" in response.text
    assert "the wait of the oldest ready message" in response.text
    for state in State:
        assert admin_url("list", "default", state) in response.text
    assert "Queue default" in response.text


def test_overview_reports_an_unreadable_queue_and_shows_the_others(
    viewer, settings, db
):
    """A queue whose server is down shows its error; the page still renders."""
    settings.QUEUES = {
        "default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"},
        "down": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": "redis://127.0.0.1:1/0",
        },
    }
    response = viewer.get(admin_url("changelist"))
    assert response.status_code == 200
    down = response.context["cards"][1]
    assert down.name == "down"
    assert "ConnectionError" in down.error
    assert "This queue cannot be read" in response.text


def test_each_list_shows_the_messages_of_its_state(viewer, ids):
    for state in State:
        response = viewer.get(admin_url("list", "default", state))
        assert response.status_code == 200
        assert [m.id for m in response.context["rows"]] == [ids[state]]
        assert admin_url("message", "default", ids[state]) in response.text
        assert response.context["has_next"] is False


def test_list_pages_read_one_more_than_they_show(viewer, queue, monkeypatch):
    """Page 1 links to page 2 only when a next message exists."""
    monkeypatch.setattr("djqueue.admin.views.PER_PAGE", 2)
    made = [make_message("tests.queued") for _ in range(3)]
    queue.write_many(made)
    first = viewer.get(admin_url("list", "default", "queued"))
    assert [m.id for m in first.context["rows"]] == [m.id for m in made[:2]]
    assert first.context["has_next"] is True
    assert 'rel="next"' in first.text
    second = viewer.get(admin_url("list", "default", "queued"), {"page": 2})
    assert [m.id for m in second.context["rows"]] == [made[2].id]
    assert second.context["has_next"] is False
    assert 'rel="next"' not in second.text


def test_no_next_page_past_the_last_one_offered(viewer, queue, monkeypatch):
    monkeypatch.setattr("djqueue.admin.views.PER_PAGE", 1)
    monkeypatch.setattr("djqueue.admin.views.MAX_PAGE", 2)
    queue.write_many([make_message("tests.queued") for _ in range(3)])
    url = admin_url("list", "default", "queued")
    assert viewer.get(url, {"page": 1}).context["has_next"] is True
    assert viewer.get(url, {"page": 2}).context["has_next"] is False


def test_queue_names_with_a_slash_have_working_pages(viewer, settings):
    settings.QUEUES = {"mail/eu": {}, "mail": {}}
    queue = get_queue("mail/eu")
    message = make_message("tests.queued", queue="mail/eu")
    queue.write(message)
    try:
        assert viewer.get(admin_url("changelist")).status_code == 200
        listing = viewer.get(admin_url("list", "mail/eu", "queued"))
        assert [m.id for m in listing.context["rows"]] == [message.id]
        page = viewer.get(admin_url("message", "mail/eu", message.id))
        assert page.context["message"].id == message.id
        assert viewer.get(admin_url("purge", "mail/eu", "queued")).status_code == 403
    finally:
        queue.flush()


def test_list_rejects_an_unknown_queue_or_state(viewer, ids):
    assert viewer.get(admin_url("list", "nope", "queued")).status_code == 404
    assert viewer.get(admin_url("list", "default", "lost")).status_code == 404


def test_search_by_id_opens_the_message_in_any_state(viewer, ids):
    response = viewer.get(
        admin_url("list", "default", "queued"), {"q": f" {ids[State.FAILED]} "}
    )
    assert response.status_code == 302
    assert response["Location"] == admin_url("message", "default", ids[State.FAILED])


def test_search_by_unknown_id_finds_nothing(viewer, ids):
    response = viewer.get(
        admin_url("list", "default", "queued"),
        {"q": "01890000-0000-7000-8000-000000000000"},
    )
    assert response.status_code == 200
    assert response.context["rows"] == []


def test_search_by_text_lists_the_matching_commands(viewer, ids, monkeypatch):
    """Text matching several registered commands offers them; none lists none."""
    monkeypatch.setattr(
        "djqueue.admin.views.matching_commands", lambda text: ["a.one", "a.two"]
    )
    response = viewer.get(admin_url("list", "default", "queued"), {"q": "a."})
    assert response.context["matches"] == ["a.one", "a.two"]
    assert response.context["rows"] == []
    assert "?command=a.one" in response.text


ADD = "testproject.demo.commands.add"
FAIL = "testproject.demo.commands.fail"


def test_command_filter_and_search_by_command(viewer, queue):
    """Text matching one registered command filters the list by it; the
    command filter takes unregistered names too."""
    adds = [make_message(ADD, (1, 2)) for _ in range(2)]
    queue.write_many([*adds, make_message(FAIL), make_message("gone.command")])
    url = admin_url("list", "default", "queued")
    response = viewer.get(url, {"q": "demo.commands.ad"})
    assert response.context["command"] == ADD
    assert [m.id for m in response.context["rows"]] == [m.id for m in adds]
    response = viewer.get(url, {"command": "gone.command"})
    assert [m.command for m in response.context["rows"]] == ["gone.command"]
    assert '<option value="gone.command" selected>' in response.text


def test_overview_shows_consumers_and_the_last_hours_throughput(viewer, queue):
    now = timezone.now()
    queue.register_consumer(
        ConsumerInfo(
            id="worker-7:99", host="worker-7", pid=99, queues=("default",),
            concurrency=8, worker_type="process",
            started_at=now - timedelta(hours=2), heartbeat_at=now,
            processed=40, failed=2,
        ),
        ttl=60,
    )  # fmt: skip
    queue.record_runs({(ADD, State.DONE): 5, (FAIL, State.FAILED): 2}, now=now)
    earlier = now - timedelta(minutes=10)
    queue.record_runs({(ADD, State.DONE): 3}, now=earlier)
    response = viewer.get(admin_url("changelist"))
    [consumer] = response.context["consumers"]
    assert (consumer.host, consumer.pid) == ("worker-7", 99)
    assert "worker-7" in response.text
    assert "8 process" in response.text
    chart = response.context["cards"][0].chart
    assert (chart.done, chart.failed) == (8, 2)
    assert [(bar.done, bar.failed) for bar in chart.bars] == [(3, 0), (5, 2)]
    assert "8 messages done" in response.text
    assert "Failure rate in the last hour: <strong>20.0 %</strong>" in response.text
    assert 'class="djq-failed"' in response.text


def test_matching_commands_prefers_an_exact_name():
    from djqueue.admin.views import matching_commands

    assert matching_commands("testproject.demo.commands.add") == [
        "testproject.demo.commands.add"
    ]
    assert "testproject.demo.commands.add" in matching_commands("DEMO.COMMANDS.AD")
    assert matching_commands("no-such-command-anywhere") == []


def test_message_page_shows_a_failure_safely(viewer, ids):
    """Arguments and error are escaped; the traceback is shown; the
    signature is reported valid."""
    response = viewer.get(admin_url("message", "default", ids[State.FAILED]))
    assert response.status_code == 200
    text = response.text
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "ValueError: &lt;b&gt;boom&lt;/b&gt;" in text
    assert "Traceback (most recent call last)" in text
    assert "Signature valid." in text
    assert "host:1:w0" in text  # the worker that ran it


def test_message_page_decodes_the_result(viewer, ids):
    response = viewer.get(admin_url("message", "default", ids[State.DONE]))
    assert "{&#x27;total&#x27;: &#x27;&lt;i&gt;42&lt;/i&gt;&#x27;}" in response.text


def test_message_page_says_a_message_is_suspect(viewer, queue):
    """A message whose worker was lost says so; others do not."""
    lost, ordinary = make_message("tests.lost"), make_message("tests.ordinary")
    queue.write(lost)
    queue.claim("dead", 30, now=timezone.now())
    queue.reclaim_expired(now=timezone.now() + timedelta(seconds=31))
    queue.write(ordinary)

    pages = [
        viewer.get(admin_url("message", "default", m.id)).text for m in (lost, ordinary)
    ]

    assert ["its worker was lost" in text for text in pages] == [True, False]


def test_message_page_shows_the_deadline_and_why_a_message_expired(viewer, ids):
    """An expired message says when its deadline passed and offers Retry;
    a message without a deadline shows none."""
    text = viewer.get(admin_url("message", "default", ids[State.EXPIRED])).text
    assert "Start by" in text
    assert "not started by then, it expires and never runs" in text
    assert "before it started" in text
    queued = viewer.get(admin_url("message", "default", ids[State.QUEUED])).text
    assert "Start by" not in queued


def test_message_page_flags_a_tampered_payload(viewer, queue):
    message = make_message("tests.evil", (1,))
    message.payload = "[[2],{}]"
    queue.write(message)
    response = viewer.get(admin_url("message", "default", message.id))
    assert "Signature invalid" in response.text
    assert response.context["arguments"].rows == (("0", "2"),)


def test_message_page_does_not_decode_pickle(viewer, queue):
    message = make_message("tests.pickled", (1,), serializer="pickle")
    queue.write(message)
    response = viewer.get(admin_url("message", "default", message.id))
    assert "Pickled payload, not decoded." in response.text
    assert response.context["arguments"].rows == ()


def test_message_page_404s_on_unknown_or_bad_ids(viewer, ids):
    unknown = "01890000-0000-7000-8000-000000000000"
    assert viewer.get(admin_url("message", "default", unknown)).status_code == 404
    assert viewer.get(admin_url("message", "default", "x" * 5)).status_code == 404


def test_message_anywhere_redirects_to_its_queue(viewer, ids):
    """The admin log links to messages by id alone."""
    response = viewer.get(admin_url("change", ids[State.QUEUED]))
    assert response["Location"] == admin_url("message", "default", ids[State.QUEUED])


# -- Actions -----------------------------------------------------------------


def log_entries():
    content_type = ContentType.objects.get_for_model(MessageRecord)
    return list(
        LogEntry.objects.filter(content_type=content_type)
        .order_by("pk")
        .values_list("object_id", "action_flag", "change_message")
    )


@pytest.mark.parametrize(
    ("action", "state", "after"),
    [
        ("retry", State.FAILED, State.QUEUED),
        ("retry", State.CANCELLED, State.QUEUED),
        ("retry", State.EXPIRED, State.QUEUED),
        ("cancel", State.QUEUED, State.CANCELLED),
        ("cancel", State.SCHEDULED, State.CANCELLED),
        ("run_now", State.SCHEDULED, State.QUEUED),
    ],
)
def test_action_changes_the_state_and_is_logged(
    operator, queue, ids, action, state, after
):
    message_id = ids[state]
    command = queue.get(message_id).command
    response = operator.post(admin_url("action", "default", message_id, action))
    assert response.status_code == 302
    assert response["Location"] == admin_url("message", "default", message_id)
    assert queue.get(message_id).state == after
    verb = {"retry": "Retried", "cancel": "Cancelled", "run_now": "Ran now"}[action]
    sentence = f"{verb} message {message_id[:8]}… of {command} on queue default."
    assert log_entries() == [(message_id, CHANGE, sentence)]


def test_cancel_from_the_message_page_sends_message_cancelled(operator, queue, ids):
    from djqueue.signals import message_cancelled

    sent = []

    def receiver(sender, message, **kwargs):
        sent.append((sender, message.id, message.state))

    message_id = ids[State.QUEUED]
    message_cancelled.connect(receiver)
    try:
        operator.post(admin_url("action", "default", message_id, "cancel"))
        operator.post(admin_url("action", "default", message_id, "cancel"))
    finally:
        message_cancelled.disconnect(receiver)
    # The second press changed nothing, so it sent nothing.
    assert sent == [(queue.get(message_id).command, message_id, State.CANCELLED)]


def test_delete_asks_first_then_removes_the_message_and_is_logged(operator, queue, ids):
    message_id = ids[State.DONE]
    command = queue.get(message_id).command
    url = admin_url("action", "default", message_id, "delete")
    confirm = operator.post(url)
    assert confirm.status_code == 200
    assert "This deletes this Done message" in confirm.text
    assert queue.get(message_id) is not None
    assert log_entries() == []
    response = operator.post(url, {"confirm": "yes", "state": "done"})
    assert response["Location"] == admin_url("list", "default", "done")
    assert queue.get(message_id) is None
    sentence = f"Deleted message {message_id[:8]}… of {command} on queue default."
    assert log_entries() == [(message_id, DELETION, sentence)]


def test_an_action_that_does_not_apply_changes_nothing(operator, queue, ids):
    """Retrying a queued message is refused with a warning, not logged."""
    before = snapshot(queue)
    response = operator.post(
        admin_url("action", "default", ids[State.QUEUED], "retry"), follow=True
    )
    assert "was not retried" in response.text
    assert snapshot(queue) == before
    assert log_entries() == []


def test_purge_asks_for_confirmation_then_deletes_one_state(operator, queue, ids):
    add_failed(queue)
    url = admin_url("purge", "default", "failed")
    confirm = operator.get(url)
    assert confirm.status_code == 200
    assert confirm.context["count"] == 2
    assert queue.counts()[State.FAILED] == 2
    unconfirmed = operator.post(url)
    assert unconfirmed.status_code == 200  # the confirmation page again
    assert queue.counts()[State.FAILED] == 2
    response = operator.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    counts = queue.counts()
    assert counts[State.FAILED] == 0
    assert counts[State.QUEUED] == 1
    sentence = "Purged 2 failed messages of queue default."
    assert log_entries() == [("default:failed", DELETION, sentence)]


def test_running_messages_cannot_be_purged(operator, ids):
    url = admin_url("purge", "default", "running")
    assert operator.post(url, {"confirm": "yes"}).status_code == 404


def test_actions_need_a_post(operator, queue, ids):
    response = operator.get(admin_url("action", "default", ids[State.FAILED], "retry"))
    assert response.status_code == 405
    assert queue.get(ids[State.FAILED]).state == State.FAILED


def test_actions_need_a_csrf_token(django_user_model, queue, ids):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user(django_user_model, "op", *ALL_PERMS))
    response = client.post(admin_url("action", "default", ids[State.FAILED], "retry"))
    assert response.status_code == 403
    assert queue.get(ids[State.FAILED]).state == State.FAILED


# -- Permissions -------------------------------------------------------------

MESSAGE_ACTIONS = {
    "retry": State.FAILED,
    "run_now": State.SCHEDULED,
    "cancel": State.QUEUED,
    "delete": State.DONE,
}
PERMISSION_OF = {
    "retry": "retry_message",
    "run_now": "run_message",
    "cancel": "cancel_message",
    "delete": "delete_message",
}


@pytest.mark.parametrize(
    ("who", "perms", "superuser"),
    [
        ("viewer", ("view_message",), False),
        ("retrier", ("view_message", "retry_message"), False),
        ("admin", (), True),
    ],
)
def test_permission_matrix(
    client, django_user_model, queue, ids, who, perms, superuser
):
    """Buttons appear and POSTs succeed exactly for the permissions held;
    a forged POST without the permission is a 403 and changes nothing."""
    user = staff_user(django_user_model, who, *perms, superuser=superuser)
    client.force_login(user)
    for action, state in MESSAGE_ACTIONS.items():
        may = superuser or PERMISSION_OF[action] in perms
        url = admin_url("action", "default", ids[state], action)
        page = client.get(admin_url("message", "default", ids[state]))
        assert (url in page.text) is may, action
        before = snapshot(queue)
        response = client.post(url, {"confirm": "yes", "state": state.value})
        if may:
            assert response.status_code == 302, action
            assert snapshot(queue) != before, action
        else:
            assert response.status_code == 403, action
            assert snapshot(queue) == before, action
    may_purge = superuser
    add_failed(queue)
    listing = client.get(admin_url("list", "default", "failed"))
    assert (admin_url("purge", "default", "failed") in listing.text) is may_purge
    before = snapshot(queue)
    response = client.post(admin_url("purge", "default", "failed"), {"confirm": "yes"})
    assert response.status_code == (302 if may_purge else 403)
    assert (snapshot(queue) == before) is not may_purge


def test_staff_without_view_permission_gets_403(client, django_user_model, ids):
    client.force_login(staff_user(django_user_model, "nobody"))
    for url in (
        admin_url("changelist"),
        admin_url("list", "default", "queued"),
        admin_url("message", "default", ids[State.QUEUED]),
        admin_url("periodic"),
    ):
        assert client.get(url).status_code == 403, url


def test_anonymous_users_are_sent_to_the_login(client, ids):
    response = client.get(admin_url("changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# -- Reading never writes ----------------------------------------------------


def test_get_requests_change_nothing(operator, queue, ids):
    """Every page, fetched by a user holding every permission, leaves the
    queue as it was (including the action and purge URLs)."""
    before = snapshot(queue)
    urls = [admin_url("changelist"), admin_url("periodic")]
    for state, message_id in ids.items():
        urls += [
            admin_url("list", "default", state),
            admin_url("message", "default", message_id),
            admin_url("change", message_id),
            admin_url("purge", "default", state),
            admin_url("bulk", "default", state),
        ]
        urls += [
            admin_url("action", "default", message_id, action)
            for action in MESSAGE_ACTIONS
        ]
    for url in urls:
        assert operator.get(url).status_code in (200, 302, 404, 405), url
    assert snapshot(queue) == before
    assert log_entries() == []
