"""The admin's bulk actions in headless Chromium, driven by Playwright, on
DatabaseQueue and on a real Redis (see ``tests/test_admin_browser.py`` for
what the browser needs)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.states import State

from .admin_helpers import admin_url, fail_many, staff_user
from .factories import make_message
from .test_admin_browser import browser_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

__all__ = ["browser_page"]  # the fixture, used by name


def act(page, action: str, scope: str) -> None:
    """Choose ``action`` in a list's bulk form, apply it to ``scope``, and
    confirm; wait until the list says it is done."""
    page.select_option("#djq-action", action)
    page.click(f"#djq-bulk button[value={scope}]")
    page.wait_for_selector(".djq-confirm")
    page.click(".djq-confirm input[type=submit]")
    page.wait_for_selector(".messagelist .success")


def test_retry_every_failed_message_of_a_command_in_steps(
    browser_page, live_server, server_backend, django_user_model, monkeypatch
):
    """Steps of two: the progress page posts each next step by itself until
    the five messages of the command are retried; the other command's
    stay failed. Then the filtered purge deletes only its command."""
    monkeypatch.setattr("djqueue.admin.bulk.STEP", 2)
    page, queue = browser_page, get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    ids = fail_many(queue, ["tests.a", "tests.b"] * 2 + ["tests.a"] * 3)
    listing = admin_url("list", "default", "failed")
    log_in(page, live_server, "ops", listing)
    page.click("a[href='?command=tests.a'] >> nth=0")
    page.wait_for_url("**command=tests.a")

    act(page, "retry", "all")

    text = page.inner_text(".messagelist")
    assert "Retried 5 failed messages of tests.a on queue default" in text
    states = [queue.get(i).state for i in ids]
    assert states.count(State.QUEUED) == 5
    assert states.count(State.FAILED) == 2

    page.goto(f"{live_server.url}{listing}?command=tests.b")
    page.click("a.deletelink")
    page.wait_for_selector(".djq-confirm")
    assert "every Failed message of tests.b" in page.inner_text("#content")
    page.click(".djq-confirm input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert queue.counts()[State.FAILED] == 0
    assert queue.counts()[State.QUEUED] == 5


def test_pick_messages_and_act_on_them(
    browser_page, live_server, server_backend, django_user_model
):
    """Run now two picked scheduled messages; cancel a whole page of queued
    ones with the page's box; retry one cancelled; delete a running one
    after the warning."""
    page, queue = browser_page, get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    later = timezone.now() + timedelta(hours=1)
    scheduled = [make_message("tests.later", eta=later) for _ in range(3)]
    queue.write_many(scheduled)
    log_in(page, live_server, "ops", admin_url("list", "default", "scheduled"))
    for message in scheduled[:2]:
        page.check(f"input[name=ids][value='{message.id}']")
    act(page, "run_now", "picked")
    assert [queue.get(m.id).state for m in scheduled] == [
        State.QUEUED,
        State.QUEUED,
        State.SCHEDULED,
    ]

    page.goto(f"{live_server.url}{admin_url('list', 'default', 'queued')}")
    page.check("input[data-djq-pick-page]")
    act(page, "cancel", "picked")
    assert "Cancelled 2 queued messages" in page.inner_text(".messagelist")
    assert queue.counts()[State.CANCELLED] == 2

    page.goto(f"{live_server.url}{admin_url('list', 'default', 'cancelled')}")
    page.check(f"input[name=ids][value='{scheduled[0].id}']")
    act(page, "retry", "picked")
    assert queue.get(scheduled[0].id).state == State.QUEUED

    [running] = queue.claim("w", 30)
    page.goto(f"{live_server.url}{admin_url('list', 'default', 'running')}")
    page.check(f"input[name=ids][value='{running.id}']")
    page.select_option("#djq-action", "delete")
    page.click("#djq-bulk button[value=picked]")
    page.wait_for_selector(".djq-confirm")
    assert page.locator(".djq-running-warning").is_visible()
    page.click(".djq-confirm input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert queue.get(running.id) is None
