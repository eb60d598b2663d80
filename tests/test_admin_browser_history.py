"""The history of attempts, the consumers table and long values in headless
Chromium, on DatabaseQueue and a real Redis (``server_backend``): see
:mod:`tests.test_admin_browser` for what the browser needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.backends.inspection import ConsumerInfo, RunningMessage
from djqueue.consumer.execution import Outcome
from djqueue.consumer.outcomes import store_outcome
from djqueue.states import State

from .admin_helpers import admin_url, staff_user
from .factories import make_message
from .test_admin_browser import browser_page, log_in  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 800}


@pytest.fixture
def page(request):
    """test_admin_browser's page of a fresh headless Chromium."""
    return request.getfixturevalue("browser_page")


def fail_as(queue, worker: str, error: str) -> str:
    """Claim the next message as ``worker`` and fail it as the consumer does."""
    [leased] = queue.claim(worker, 30)
    outcome = Outcome(
        State.FAILED,
        error=error,
        exception="builtins.ValueError",
        traceback=f"Traceback (most recent call last):\n  File 'x.py'\n{error}\n",
    )
    assert store_outcome(queue, leased, outcome)
    return leased.id


def test_staff_read_the_history_after_a_retry(
    page, live_server, server_backend, django_user_model
):
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    queue.write(make_message("reports.send", max_attempts=1))
    message_id = fail_as(queue, "emails-1", "ValueError: the first run")
    url = admin_url("message", "default", message_id)
    log_in(page, live_server, "ops", url)

    page.click("button[value=retry]")
    page.wait_for_selector(".messagelist .success")
    queue.claim("emails-2", 30)
    page.reload()

    rows = page.locator(".djq-attempts-table tbody tr")
    assert rows.count() == 2
    latest, first = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "emails-2" in latest
    assert "Running" in latest
    assert "after a retry from the admin" in latest
    assert "emails-1" in first
    assert "ValueError: the first run" in first
    traceback = rows.nth(1).locator(".djq-attempt-traceback")
    assert not traceback.is_visible()
    rows.nth(1).locator("summary").click()
    assert "Traceback (most recent call last)" in traceback.inner_text()


def test_the_overview_links_a_consumers_running_message(
    page, live_server, server_backend, django_user_model
):
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    queue.write(make_message("reports.send"))
    [leased] = queue.claim("emails-1", 30)
    now = timezone.now()
    queue.register_consumer(
        ConsumerInfo(
            id="emails-1",
            host="worker-1.example",
            pid=4242,
            queues=("default",),
            concurrency=4,
            worker_type="thread",
            started_at=now - timedelta(minutes=5),
            heartbeat_at=now,
            running=(
                RunningMessage("default", leased.id, "reports.send", leased.started_at),
            ),
            holding=1,
        ),
        ttl=60,
    )
    log_in(page, live_server, "ops", admin_url("changelist"))

    consumer = page.locator(".djq-consumer")
    assert "emails-1" in consumer.inner_text()
    consumer.locator(".djq-running-now a").click()

    page.wait_for_url(f"{live_server.url}{admin_url('message', 'default', leased.id)}")
    assert "emails-1" in page.locator(".djq-attempts-table").inner_text()


def test_a_long_error_wraps_on_a_phone(
    page, live_server, server_backend, django_user_model
):
    """Neither the list nor the message page scrolls sideways at phone
    width, however long the error."""
    page.set_viewport_size(PHONE)
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    queue.write(make_message("reports.send"))
    error = "ValueError: " + "no-such-recipient@example.com," * 12
    message_id = fail_as(queue, "emails-1", error)

    log_in(page, live_server, "ops", admin_url("list", "default", "failed"))
    listed = page.evaluate("document.documentElement.scrollWidth")
    scroller = page.eval_on_selector(
        ".djq-scroll", "box => box.scrollWidth - box.clientWidth"
    )
    page.goto(f"{live_server.url}{admin_url('message', 'default', message_id)}")
    shown = page.evaluate("document.documentElement.scrollWidth")

    assert listed <= PHONE["width"] + 1
    assert scroller <= 1, "the list scrolls sideways inside its box"
    assert shown <= PHONE["width"] + 1


def test_a_huge_argument_is_shown_by_its_start_until_asked(
    page, live_server, server_backend, django_user_model
):
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    message = make_message("reports.send", (list(range(3000)),))
    queue.write(message)
    log_in(page, live_server, "ops", admin_url("message", "default", message.id))

    folded = page.evaluate("document.documentElement.scrollHeight")
    page.click("text=Show all (3000 lines)")
    unfolded = page.evaluate("document.documentElement.scrollHeight")

    assert folded < 2000
    assert unfolded > 10 * folded
