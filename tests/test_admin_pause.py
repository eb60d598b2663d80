"""Pausing and resuming a queue from the admin, on every backend: the
banner on the overview and the queue's pages, the buttons (POST, CSRF, a
confirmation with a reason for pause), the permission, the admin log, the
live document and the metrics gauge."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client

from djqueue import get_queue
from djqueue.backends.pausing import MAX_REASON_LENGTH
from djqueue.states import State

from .admin_helpers import admin_url, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(backend):
    return get_queue()


@pytest.fixture
def pauser(client, django_user_model):
    client.force_login(
        staff_user(django_user_model, "pauser", "view_message", "pause_queue")
    )
    return client


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    return client


def test_the_pause_is_shown_on_the_overview_and_the_queue_pages(queue, viewer):
    queue.pause("alice", "deploying <b>mailer</b>")

    pages = [admin_url("changelist"), admin_url("list", "default", State.QUEUED)]
    for page in pages:
        text = viewer.get(page).text
        assert "Paused since " in text
        assert "by alice: deploying &lt;b&gt;mailer&lt;/b&gt;." in text
        assert "Consumers claim nothing from this queue" in text
        # A viewer sees the pause but is offered no button.
        assert admin_url("resume", "default") not in text
        assert admin_url("pause", "default") not in text


def test_a_running_queue_shows_no_banner_and_offers_pause(queue, pauser):
    text = pauser.get(admin_url("changelist")).text

    assert "Paused since" not in text
    assert admin_url("pause", "default") in text
    assert admin_url("resume", "default") not in text


def test_pause_asks_first_then_pauses_as_the_user_with_the_reason(queue, pauser):
    overview = admin_url("changelist")
    page = pauser.get(admin_url("pause", "default"), {"next": overview})

    assert page.status_code == 200
    assert "Yes, pause it" in page.text
    assert queue.pause_state() is None

    done = pauser.post(
        admin_url("pause", "default"),
        {"confirm": "yes", "reason": "  deploying  ", "next": overview},
    )

    assert done.status_code == 302
    assert done.url == overview
    pause = queue.pause_state()
    assert (pause.by, pause.reason) == ("pauser", "deploying")
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.action_flag) == ("default:pause", CHANGE)
    assert entry.change_message == "Paused queue default: deploying."
    assert entry.user.username == "pauser"


def test_a_post_without_confirmation_only_asks(queue, pauser):
    page = pauser.post(admin_url("pause", "default"), {"reason": "x"})

    assert page.status_code == 200
    assert "Yes, pause it" in page.text
    assert queue.pause_state() is None


def test_a_reason_too_long_is_asked_again_and_nothing_is_paused(queue, pauser):
    reason = "r" * (MAX_REASON_LENGTH + 1)
    page = pauser.post(
        admin_url("pause", "default"), {"confirm": "yes", "reason": reason}
    )

    assert page.status_code == 200
    assert f"shorten it to {MAX_REASON_LENGTH} characters" in page.text
    assert queue.pause_state() is None


def test_resume_is_a_post_and_is_logged(queue, pauser):
    queue.pause("alice")
    back = admin_url("list", "default", State.QUEUED)

    assert pauser.get(admin_url("resume", "default")).status_code == 405
    assert queue.pause_state() is not None
    done = pauser.post(admin_url("resume", "default"), {"next": back})

    assert done.status_code == 302
    assert done.url == back
    assert queue.pause_state() is None
    entry = LogEntry.objects.get()
    assert entry.change_message == "Resumed queue default, paused by alice."


def test_pausing_a_paused_queue_keeps_the_first_pause_and_logs_nothing(queue, pauser):
    queue.pause("alice", "first")

    pauser.post(admin_url("pause", "default"), {"confirm": "yes", "reason": "again"})

    assert queue.pause_state().by == "alice"
    assert not LogEntry.objects.exists()


def test_next_leads_only_to_this_site(queue, pauser):
    done = pauser.post(
        admin_url("pause", "default"),
        {"confirm": "yes", "next": "https://elsewhere.example/"},
    )

    assert done.url == admin_url("changelist")


def test_both_actions_need_the_pause_permission(queue, viewer):
    queue.pause("alice")

    assert viewer.post(admin_url("resume", "default")).status_code == 403
    assert viewer.get(admin_url("pause", "default")).status_code == 403
    queue.resume()
    assert (
        viewer.post(admin_url("pause", "default"), {"confirm": "yes"}).status_code
        == 403
    )
    assert queue.pause_state() is None


def test_the_actions_need_the_csrf_token(queue, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(
        staff_user(django_user_model, "op", "view_message", "pause_queue")
    )

    refused = client.post(admin_url("pause", "default"), {"confirm": "yes"})

    assert refused.status_code == 403
    assert queue.pause_state() is None


def test_an_unknown_queue_is_a_404(queue, pauser):
    assert pauser.post(admin_url("resume", "nowhere")).status_code == 404


def test_the_live_document_and_the_metrics_show_the_pause(queue, viewer):
    queue.pause("alice", "why")
    pause = queue.pause_state()

    [card] = viewer.get(admin_url("live")).json()["queues"]
    metrics = viewer.get("/djqueue/metrics").text

    assert card["paused"] == {
        "by": "alice",
        "since": pause.since.isoformat(),
        "reason": "why",
    }
    assert 'djqueue_queue_paused{queue="default"} 1' in metrics
    queue.resume()
    assert (
        'djqueue_queue_paused{queue="default"} 0' in viewer.get("/djqueue/metrics").text
    )
    assert viewer.get(admin_url("live")).json()["queues"][0]["paused"] is None
