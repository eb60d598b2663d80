"""The admin pages in headless Chromium, driven by Playwright, against
pytest-django's live server.

Needs the ``playwright`` package (the ``test`` extra) and Debian's
``chromium`` at /usr/bin/chromium (``apt-get install chromium``); Playwright's
own browser downloads are never used. Without them these tests skip, unless
``CI`` is set, where they fail.

``DJQUEUE_SCREENSHOTS=<directory>`` makes ``test_screenshots`` write the
screenshots of the docs there (``scripts/admin-screenshots`` does it).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from djqueue import get_queue
from djqueue.states import State

from .admin_helpers import add_failed, admin_url, staff_user
from .conftest import IN_CI

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("DJQUEUE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "secret-pw"
SCREENSHOT_TRACEBACK = """Traceback (most recent call last):
  File "/srv/shop/reports/commands.py", line 41, in send_monthly_report
    mail.send(fail_silently=False)
  File "/srv/shop/.venv/.../django/core/mail/message.py", line 301, in send
    return self.get_connection(fail_silently).send_messages([self])
  File "/usr/lib/python3.12/smtplib.py", line 901, in sendmail
    raise SMTPRecipientsRefused(senderrs)
smtplib.SMTPRecipientsRefused: {'ceo@example.com': (550, b'mailbox full')}
"""


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "the playwright package is not installed (pip install playwright)"
    else:
        if Path(CHROMIUM).exists():
            return sync_playwright
        reason = f"Chromium is not at {CHROMIUM} (apt-get install chromium)"
    if IN_CI:
        pytest.fail(f"{reason}, and CI requires the browser tests.")
    pytest.skip(reason)


@pytest.fixture
def browser_page(tmp_path, monkeypatch):
    """A page of a fresh headless Chromium profile."""
    sync_playwright = _playwright()
    # Playwright's sync API runs an event loop in this thread; the test's
    # own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        # While Playwright's loop runs, Django keeps this thread's database
        # connections apart from the ones pytest-django closes: close them
        # here, or the test database cannot be dropped.
        connections.close_all()


def log_in(page, live_server, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}{next_url}")


def register_consumer(queue, host="worker-1.example", pid=4242):
    """A consumer announced through the inspection API, as run_queue does."""
    from djqueue.backends.inspection import ConsumerInfo

    now = timezone.now()
    info = ConsumerInfo(
        id=f"{host}:{pid}",
        host=host,
        pid=pid,
        queues=(queue.name,),
        concurrency=4,
        worker_type="thread",
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now,
        processed=12,
        failed=1,
    )
    queue.register_consumer(info, ttl=60)


def test_staff_find_a_failure_retry_it_and_purge(
    browser_page, live_server, server_backend, django_user_model
):
    page = browser_page
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    failed_id = add_failed(queue, "tests.sends_report")
    register_consumer(queue)

    overview = admin_url("changelist")
    log_in(page, live_server, "ops", overview)
    consumers = page.locator(".djq-consumers")
    assert "worker-1.example" in consumers.inner_text()
    assert "4242" in consumers.inner_text()

    page.click(f"a[href='{admin_url('list', 'default', 'failed')}']")
    page.click(f"a[href='{admin_url('message', 'default', failed_id)}']")
    assert "ValueError: <b>boom</b>" in page.locator(".djq-error-text").inner_text()
    assert "Traceback (most recent call last)" in page.inner_text(".djq-traceback")
    assert "<script>alert(1)</script>" in page.inner_text(".djq-payload")

    page.click("button[value=retry]")
    page.wait_for_selector(".messagelist .success")
    assert queue.get(failed_id).state == State.QUEUED

    add_failed(queue, "tests.sends_report")
    page.goto(f"{live_server.url}{admin_url('list', 'default', 'failed')}")
    page.click(f"a[href='{admin_url('purge', 'default', 'failed')}']")
    page.wait_for_selector("input[name=confirm]", state="attached")
    assert "This deletes the 1 Failed message" in page.inner_text("#content")
    assert queue.counts()[State.FAILED] == 1
    page.click("input[value='Yes, purge them']")
    page.wait_for_selector(".messagelist .success")
    assert queue.counts()[State.FAILED] == 0
    assert queue.counts()[State.QUEUED] == 1


BREADCRUMBS_STYLE = """element => {
    const style = getComputedStyle(element);
    return [style.backgroundColor, style.color, style.paddingTop, style.paddingLeft];
}"""


def test_breadcrumbs_look_like_the_admins_own_on_this_django(
    browser_page, live_server, server_backend, django_user_model
):
    """djqueue's <ol> breadcrumbs (Django 6's markup) get the box of the
    admin's own breadcrumbs, whichever markup this Django uses for them, and
    a separator after each item but the current one."""
    page = browser_page
    staff_user(django_user_model, "ops", superuser=True)
    log_in(page, live_server, "ops", "/admin/auth/user/")
    admins = page.eval_on_selector(".breadcrumbs", BREADCRUMBS_STYLE)

    page.goto(f"{live_server.url}{admin_url('list', 'default', 'queued')}")
    ours = page.eval_on_selector("ol.breadcrumbs", BREADCRUMBS_STYLE)
    items = page.eval_on_selector_all(
        "ol.breadcrumbs li",
        """items => items.map(item => [
            getComputedStyle(item).display,
            getComputedStyle(item, "::after").content,
            getComputedStyle(item, "::after").marginLeft,
            getComputedStyle(item, "::after").marginRight,
        ])""",
    )

    assert ours == admins
    assert [item[0] for item in items] == ["inline-block"] * 5
    # The separator keeps its distance from both neighbours by margins: a
    # space inside it would be dropped at the end of the inline block.
    for _, after, left, right in items[:-1]:
        assert after.startswith('"\u203a"'), items
        assert float(left.removesuffix("px")) > 0, items
        assert float(right.removesuffix("px")) > 0, items
    assert items[-1][1] in ("none", "normal")


def test_a_viewer_sees_no_buttons_on_a_narrow_screen(
    browser_page, live_server, server_backend, django_user_model
):
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    queue = get_queue()
    staff_user(django_user_model, "viewer", "view_message")
    failed_id = add_failed(queue)
    url = admin_url("message", "default", failed_id)
    log_in(page, live_server, "viewer", url)
    assert page.locator(".djq-traceback").is_visible()
    assert page.locator(".djq-actions button").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1  # nothing forces sideways scrolling


@pytest.mark.skipif(
    not os.environ.get("DJQUEUE_SCREENSHOTS"),
    reason="set DJQUEUE_SCREENSHOTS=<directory> to write the docs' screenshots",
)
@pytest.mark.parametrize("backend", ["database"], indirect=True)
def test_screenshots(browser_page, live_server, backend, django_user_model):
    """Write the overview and a failed message, as the docs show them (on
    DatabaseQueue, this test's only backend)."""
    from .admin_helpers import populate

    target = Path(os.environ["DJQUEUE_SCREENSHOTS"])
    target.mkdir(parents=True, exist_ok=True)
    page = browser_page
    page.set_viewport_size({"width": 1100, "height": 800})
    queue = get_queue()
    populate(queue)
    failed_id = add_failed(
        queue,
        "reports.commands.send_monthly_report",
        (2024, 5),
        error="SMTPRecipientsRefused: {'ceo@example.com': (550, b'mailbox full')}",
        traceback=SCREENSHOT_TRACEBACK,
    )
    register_consumer(queue)
    now = timezone.now()
    for minutes in range(0, 60, 1):
        done = 20 + (minutes * 7) % 23
        failed = 3 if minutes % 17 == 5 else 0
        runs = {("reports.commands.build", State.DONE): done}
        if failed:
            runs["reports.commands.send_monthly_report", State.FAILED] = failed
        queue.record_runs(runs, now=now - timedelta(minutes=minutes))
    staff_user(django_user_model, "ops", superuser=True)
    log_in(page, live_server, "ops", admin_url("changelist"))
    page.screenshot(path=str(target / "admin-overview.png"), full_page=True)
    page.goto(f"{live_server.url}{admin_url('message', 'default', failed_id)}")
    page.screenshot(path=str(target / "admin-failed-message.png"), full_page=True)
    assert (target / "admin-overview.png").stat().st_size > 1000
