"""The live overview's JSON, the counts on the state tabs and the search by
command, argument and error text, on every backend (``backend`` fixture:
DatabaseQueue, RedisQueue on fakeredis and on a real Redis)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.states import State

from .admin_helpers import add_failed, admin_url, populate, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db

ADD = "testproject.demo.commands.add"
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">([^<]+)</a>')


@pytest.fixture
def queue(backend):
    return get_queue()


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    return client


# -- The live overview's JSON --------------------------------------------------


def test_the_live_json_needs_the_view_permission(client, django_user_model, queue):
    url = admin_url("live")
    assert client.get(url).status_code == 302, "to the admin's login"
    client.force_login(staff_user(django_user_model, "nobody"))
    assert client.get(url).status_code == 403
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert client.post(url).status_code == 405


def test_the_live_json_holds_what_the_overview_shows(viewer, queue):
    populate(queue)
    now = timezone.now()
    queue.record_runs({(ADD, State.DONE): 19, (ADD, State.FAILED): 1}, now=now)
    ready = make_message(eta=now - timedelta(seconds=42))
    queue.write(ready)

    data = viewer.get(admin_url("live")).json()

    [default] = data["queues"]
    assert default["name"] == "default"
    assert default["error"] == ""
    assert default["counts"] == {state.value: 1 for state in State} | {"queued": 2}
    assert 42 <= default["latency_seconds"] < 100
    assert default["consumers"] == 0
    throughput = default["throughput"]
    assert throughput["counts"] == "messages"
    assert (throughput["done"], throughput["failed"]) == (19, 1)
    assert throughput["failure_rate"] == pytest.approx(0.05)
    assert [(m["done"], m["failed"]) for m in throughput["minutes"]] == [(19, 1)]
    assert "5.0 %" in default["figures_html"]
    assert "Queue latency: <strong>42 s</strong>" in default["figures_html"]
    assert 'class="djq-failed"' in default["chart_html"]
    assert data["refresh_seconds"] == 5
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", data["taken_at_text"])


def test_the_live_json_reports_an_unreadable_queue(viewer, settings, db):
    settings.QUEUES = {
        "default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"},
        "down": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": "redis://127.0.0.1:1/0",
        },
    }

    data = viewer.get(admin_url("live")).json()

    default, down = data["queues"]
    assert default["counts"] is not None
    assert default["error"] == ""
    assert "ConnectionError" in down["error"]
    assert down["counts"] is None
    assert down["throughput"] is None
    assert "This queue cannot be read" in down["figures_html"]


def test_the_overview_page_carries_the_live_script_and_its_hooks(viewer, queue):
    populate(queue)

    text = viewer.get(admin_url("changelist")).text

    assert "djqueue/live.js" in text
    assert f'data-djq-live="{admin_url("live")}"' in text
    assert 'data-djq-queue="default"' in text
    assert 'data-djq-count="queued">1<' in text
    assert "<text" in text, "the chart's scale is labelled"
    assert "<span data-djq-refreshing hidden>" in text, "static until it runs"


# -- Counts on the state tabs --------------------------------------------------


def test_the_state_tabs_show_their_counts(viewer, queue):
    populate(queue)
    add_failed(queue)

    response = viewer.get(admin_url("list", "default", "failed"))

    tabs = dict(response.context["tabs"])
    assert tabs[State.FAILED] == 2
    assert tabs[State.QUEUED] == 1
    assert '<span class="djq-tab-count">2</span>' in response.text


# -- Times and durations ------------------------------------------------------


def test_the_message_page_gives_times_to_the_second_and_durations(viewer, queue):
    ids = populate(queue)

    done = viewer.get(admin_url("message", "default", ids[State.DONE])).text
    running = viewer.get(admin_url("message", "default", ids[State.RUNNING])).text

    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>", done)
    assert re.search(r"the last run took \d+ (ms|s)<", done)
    assert re.search(r"\d+ m?s ago\)", done), "enqueued a moment ago"
    assert re.search(r"running for \d+ (ms|s)<", running)


# -- Search ---------------------------------------------------------------------


def test_a_list_searches_argument_text(viewer, queue):
    wanted = make_message(ADD, ("invoice-4711",))
    queue.write_many([make_message(ADD, (f"invoice-{n}",)) for n in range(5)])
    queue.write(wanted)
    listing = admin_url("list", "default", "queued")

    response = viewer.get(listing, {"argument": "INVOICE-4711"})

    assert [m.id for m in response.context["rows"]] == [wanted.id]
    assert 'value="INVOICE-4711"' in response.text
    empty = viewer.get(listing, {"argument": "invoice-9999"})
    assert empty.context["rows"] == []
    assert "No messages." in empty.text


def test_a_text_search_offers_no_bulk_action_on_every_message(
    client, django_user_model, queue
):
    """The bulk actions' "all" scope is the state and command, not the
    text search: with a text filter only the picked messages are offered."""
    client.force_login(staff_user(django_user_model, "ops", superuser=True))
    add_failed(queue, error="TimeoutError: smtp")
    listing = admin_url("list", "default", "failed")

    searched = client.get(listing, {"error": "timeout"}).text
    plain = client.get(listing).text

    assert 'value="picked"' in searched
    assert 'value="all"' not in searched
    assert "A text search acts on the picked messages only." in searched
    assert 'value="all"' in plain


def test_a_list_searches_error_text_and_command_together(viewer, queue):
    timeout = add_failed(queue, error="TimeoutError: smtp.example.org")
    add_failed(queue, error="ValueError: bad input")
    add_failed(queue, command="tests.other", error="TimeoutError: db")
    listing = admin_url("list", "default", "failed")

    both = viewer.get(listing, {"error": "timeouterror", "command": "tests.fails"})
    any_command = viewer.get(listing, {"error": "TimeoutError"})

    assert [m.id for m in both.context["rows"]] == [timeout]
    assert len(any_command.context["rows"]) == 2


def test_a_text_search_stopped_at_its_bound_offers_to_search_further(
    viewer, queue, monkeypatch
):
    """With a bound of 20 messages per page and the one match behind 30
    others, the first page says it stopped and links further; following
    the link finds the match."""
    monkeypatch.setattr("djqueue.backends.base.INSPECT_SCAN_LIMIT", 20)
    base = timezone.now() - timedelta(minutes=5)
    queue.write_many(
        [make_message(ADD, ("hay",), eta=base + timedelta(0, n)) for n in range(30)]
    )
    needle = make_message(ADD, ("needle",), eta=base + timedelta(minutes=1))
    queue.write(needle)
    listing = admin_url("list", "default", "queued")

    first = viewer.get(listing, {"argument": "needle"})

    assert first.context["rows"] == []
    assert "The search stopped at its bound: 20 messages were examined" in first.text
    [(link, label)] = NEXT_LINK.findall(first.text)
    assert label == "Search further"
    assert "argument=needle" in html.unescape(link)
    further = viewer.get(listing + html.unescape(link))
    assert [m.id for m in further.context["rows"]] == [needle.id]
    assert NEXT_LINK.findall(further.text) == []


def test_the_overview_search_opens_the_searched_list(viewer, queue):
    ids = populate(queue)
    search = admin_url("search")
    failed = admin_url("list", "default", "failed")
    where = {"queue": "default", "state": "failed"}

    by_error = viewer.get(search, {"error": "boom", **where})
    by_id = viewer.get(search, {"q": f" {ids[State.DONE]} ", **where})
    nothing = viewer.get(search, where)
    unknown = viewer.get(search, {"error": "boom", "queue": "nowhere"})

    assert by_error.status_code == 302
    assert by_error["Location"] == f"{failed}?error=boom"
    assert len(viewer.get(by_error["Location"]).context["rows"]) == 1
    assert by_id["Location"] == admin_url("change", ids[State.DONE])
    assert nothing["Location"] == failed
    assert unknown["Location"] == admin_url("changelist")
    assert f'action="{search}"' in viewer.get(admin_url("changelist")).text


def test_the_search_needs_the_view_permission(client, django_user_model, queue):
    client.force_login(staff_user(django_user_model, "nobody"))
    response = client.get(admin_url("search"), {"queue": "default", "state": "failed"})
    assert response.status_code == 403
