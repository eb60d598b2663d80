"""The live overview and the search in headless Chromium (see
``test_admin_browser``): the overview changes without a reload, and
messages are found by argument and by error text, on DatabaseQueue and on a
real Redis."""

from __future__ import annotations

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.states import State

from . import test_admin_browser as browser
from .admin_helpers import add_failed, admin_url, staff_user
from .factories import make_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

browser_page = browser.browser_page

QUEUED = "[data-djq-queue='default'] [data-djq-count='queued']"
#: Playwright waits this long at most for the page to refresh itself: the
#: script asks every 5 seconds.
REFRESH_WAIT_MS = 20_000


def test_the_overview_refreshes_without_a_reload(
    browser_page, live_server, server_backend, django_user_model
):
    page = browser_page
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    browser.log_in(page, live_server, "ops", admin_url("changelist"))
    assert page.inner_text(QUEUED) == "0"
    assert page.is_visible("[data-djq-refreshing]"), "the script runs"
    page.evaluate("window.djqNotReloaded = true")

    queue.write_many([make_message("tests.live", (n,)) for n in range(3)])
    queue.record_runs({("tests.live", State.DONE): 19, ("tests.live", State.FAILED): 1})

    page.wait_for_function(
        f"document.querySelector(\"{QUEUED}\").textContent === '3'",
        timeout=REFRESH_WAIT_MS,
    )
    page.wait_for_function(
        "document.querySelector('.djq-rate').textContent.includes('5.0 %')",
        timeout=REFRESH_WAIT_MS,
    )
    assert page.evaluate("window.djqNotReloaded") is True
    assert page.locator("[data-djq-chart] rect.djq-failed").count() == 1
    assert not page.is_visible("[data-djq-stale]")


#: Before the page's scripts: keep count of the timers of the refresh's
#: interval that are pending, and let the test hide and show the tab.
TIMERS = """(() => {
    const pending = new Set();
    const set = window.setTimeout.bind(window);
    const clear = window.clearTimeout.bind(window);
    window.setTimeout = (callback, delay, ...rest) => {
        const id = set(() => { pending.delete(id); callback(...rest); }, delay);
        if (delay === 5000) { pending.add(id); }
        return id;
    };
    window.clearTimeout = id => { pending.delete(id); clear(id); };
    window.djqPendingRefreshes = () => pending.size;
    window.djqShowTab = shown => {
        const hidden = {configurable: true, get: () => !shown};
        Object.defineProperty(document, "hidden", hidden);
        document.dispatchEvent(new Event("visibilitychange"));
    };
})();"""


def test_the_overview_pauses_while_its_tab_is_hidden(
    browser_page, live_server, server_backend, django_user_model
):
    """Hidden, the page has no refresh pending; shown again, it refreshes
    at once and goes on."""
    page = browser_page
    page.add_init_script(TIMERS)
    queue = get_queue()
    staff_user(django_user_model, "ops", superuser=True)
    browser.log_in(page, live_server, "ops", admin_url("changelist"))
    page.wait_for_function("window.djqPendingRefreshes() === 1")

    page.evaluate("window.djqShowTab(false)")
    assert page.evaluate("window.djqPendingRefreshes()") == 0
    queue.write_many([make_message("tests.live", (n,)) for n in range(2)])
    assert page.inner_text(QUEUED) == "0"
    page.evaluate("window.djqShowTab(true)")

    page.wait_for_function(
        f"document.querySelector(\"{QUEUED}\").textContent === '2'",
        timeout=REFRESH_WAIT_MS,
    )
    page.wait_for_function("window.djqPendingRefreshes() === 1")


def test_the_overview_searches_by_argument(
    browser_page, live_server, server_backend, django_user_model
):
    page = browser_page
    queue = get_queue()
    wanted = make_message("tests.mail", ("ada@example.org",))
    queue.write_many([make_message("tests.mail", ("bob@example.org",)), wanted])
    staff_user(django_user_model, "ops", superuser=True)
    browser.log_in(page, live_server, "ops", admin_url("changelist"))

    page.fill("#djq-search-argument", "ADA@example")
    page.select_option("#djq-search-state", "queued")
    page.click(".djq-search input[type=submit]")

    page.wait_for_url(f"**{admin_url('list', 'default', 'queued')}?argument=*")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert wanted.id in rows.inner_text()
    assert page.input_value("#djq-argument") == "ADA@example"


def test_a_list_searches_by_error(
    browser_page, live_server, server_backend, django_user_model
):
    page = browser_page
    queue = get_queue()
    timeout = add_failed(queue, error="TimeoutError: smtp.example.org")
    add_failed(queue, error="ValueError: bad input")
    staff_user(django_user_model, "ops", superuser=True)
    failed = admin_url("list", "default", "failed")
    browser.log_in(page, live_server, "ops", failed)
    assert page.locator("#result_list tbody tr").count() == 2
    assert "2" in page.inner_text(".djq-tabs a.selected .djq-tab-count")

    page.fill("#djq-error", "smtp.EXAMPLE")
    page.click(".djq-filters input[type=submit]")

    page.wait_for_url("**?*error=smtp.EXAMPLE*")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert timeout in rows.inner_text()


QUIET_COLOR = """() => {
    const probe = document.createElement("span");
    probe.style.color = "var(--body-quiet-color)";
    document.body.append(probe);
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_overview_fits_a_phone_in_both_themes(
    browser_page, live_server, server_backend, django_user_model, scheme
):
    """At phone width nothing scrolls sideways; the chart's labels take the
    theme's quiet text colour, so they differ between light and dark."""
    page = browser_page
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 375, "height": 800})
    queue = get_queue()
    queue.record_runs({("tests.live", State.DONE): 7}, now=timezone.now())
    staff_user(django_user_model, "ops", superuser=True)
    browser.log_in(page, live_server, "ops", admin_url("changelist"))

    width = page.evaluate("document.documentElement.scrollWidth")
    label = page.eval_on_selector(
        ".djq-chart-label", "element => getComputedStyle(element).fill"
    )
    quiet = page.evaluate(QUIET_COLOR)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")

    assert width <= 375 + 1
    assert page.locator(".djq-chart svg").bounding_box()["width"] <= 375
    assert label == quiet, "the labels take the admin's quiet colour"
    dark = background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    assert dark == (scheme == "dark"), background
