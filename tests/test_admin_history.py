"""The admin's history of attempts, consumers, paging and long values, on
every backend (``backend`` fixture: DatabaseQueue, RedisQueue on fakeredis
and on a real Redis)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.backends.inspection import ConsumerInfo, RunningMessage
from djqueue.consumer.execution import Outcome
from djqueue.consumer.outcomes import store_outcome
from djqueue.states import State

from .admin_helpers import ALL_PERMS, admin_url, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(backend):
    return get_queue()


@pytest.fixture
def operator(client, django_user_model):
    client.force_login(staff_user(django_user_model, "operator", *ALL_PERMS))
    return client


def run_and_fail(queue, worker, error="KeyError: 'user'"):
    """Claim the next message as ``worker`` and store a failure for it, as
    the consumer does."""
    [leased] = queue.claim(worker, 30)
    outcome = Outcome(
        State.FAILED,
        error=error,
        exception="builtins.KeyError",
        traceback=f"Traceback (most recent call last):\n{error}\n",
    )
    assert store_outcome(queue, leased, outcome)
    return leased


def consumer(worker_id="emails-1", **changes):
    now = timezone.now()
    values = {
        "id": worker_id,
        "host": "web-3",
        "pid": 4242,
        "queues": ("default",),
        "concurrency": 4,
        "worker_type": "thread",
        "started_at": now - timedelta(minutes=5),
        "heartbeat_at": now,
    } | changes
    return ConsumerInfo(**values)


# -- The history of attempts ----------------------------------------------------


def test_the_message_page_keeps_each_attempt_through_a_retry(operator, queue):
    message = make_message("reports.send", max_attempts=1)
    queue.write(message)
    run_and_fail(queue, "emails-1", "KeyError: 'first'")
    retried = operator.post(admin_url("action", "default", message.id, "retry"))
    assert retried.status_code == 302
    queue.claim("emails-2", 30)

    page = operator.get(admin_url("message", "default", message.id))

    rows = page.context["history"]
    assert [(r.attempt.number, r.attempt.worker, r.outcome) for r in rows] == [
        (1, "emails-2", "Running"),
        (1, "emails-1", "Failed"),
    ]
    assert rows[0].attempt.after_reset
    assert "after a retry from the admin" in page.text
    assert "KeyError: &#x27;first&#x27;" in page.text
    assert "The last 10 attempts that did not succeed are kept" in page.text
    assert page.text.count("<summary>Traceback</summary>") == 1


def test_each_attempt_shows_its_duration_and_retried_outcome(operator, queue):
    start = timezone.now()
    message = make_message(options={"retries": 2}, max_attempts=3)
    queue.write(message)
    [leased] = queue.claim("emails-1", 30, now=start)
    outcome = Outcome(State.SCHEDULED, error="E: x", eta=start, exception="m.E")
    assert store_outcome(queue, leased, outcome, now=start + timedelta(seconds=75))

    page = operator.get(admin_url("message", "default", message.id))

    [row] = page.context["history"]
    assert (row.outcome, row.duration) == ("Failed, retried", "1 min 15 s")
    assert "2 of 2 retries left" in page.text


def test_a_message_that_never_ran_says_so(operator, queue):
    message = make_message()
    queue.write(message)
    page = operator.get(admin_url("message", "default", message.id))
    assert page.context["history"] == []
    assert "The message has not run yet." in page.text


def test_attempts_say_runs_retries_and_the_delivery_budget_apart(operator, queue):
    """A command without retries has a budget of deliveries, not retries."""
    message = make_message("tests.once", max_attempts=3)
    queue.write(message)
    queue.claim("emails-1", 30)

    listed = operator.get(admin_url("list", "default", "running"))
    page = operator.get(admin_url("message", "default", message.id))

    summary = "1 run · no retries on error · at most 3 deliveries"
    assert summary in listed.text
    assert "1 run so far; no retries on error; at most 3 deliveries." in page.text
    assert "counting those after a lost worker" in page.text
    assert "1/3" not in listed.text


# -- Consumers -------------------------------------------------------------------


def test_the_consumers_table_names_worker_ids_and_running_messages(operator, queue):
    message = make_message("reports.send")
    queue.write(message)
    [leased] = queue.claim("emails-1", 30)
    running = RunningMessage("default", leased.id, leased.command, leased.started_at)
    queue.register_consumer(consumer(running=(running,), holding=3), ttl=60)

    page = operator.get(admin_url("changelist"))

    [shown] = page.context["consumers"]
    assert shown.id == "emails-1"
    assert "<code>emails-1</code>" in page.text
    assert admin_url("message", "default", leased.id) in page.text
    assert "<code>reports.send</code>" in page.text
    assert "3 messages held in all" in page.text


def test_the_consumers_table_tells_times_to_the_second(operator, queue):
    """A heartbeat 12 seconds old reads "12 s ago", not "0 minutes ago", and
    the start shows its seconds."""
    now = timezone.now().replace(microsecond=0)
    started = now - timedelta(minutes=5, seconds=7)
    queue.register_consumer(
        consumer(started_at=started, heartbeat_at=now - timedelta(seconds=12)),
        ttl=60,
    )

    with mock.patch("django.utils.timezone.now", return_value=now):
        page = operator.get(admin_url("changelist"))

    assert "12 s ago" in page.text
    assert timezone.localtime(started).strftime("%Y-%m-%d %H:%M:%S") in page.text
    assert "minutes ago" not in page.text


def test_a_queue_with_ready_messages_and_no_consumer_is_warned_of(operator, queue):
    queue.write_many([make_message(), make_message()])
    warned = operator.get(admin_url("changelist"))
    assert "2 messages are ready and no consumer is alive" in warned.text

    queue.register_consumer(consumer(), ttl=60)
    served = operator.get(admin_url("changelist"))
    assert "no consumer is alive" not in served.text
    assert "Nothing, as of its last heartbeat." in served.text


# -- Paging --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "said"),
    [
        ("abc", "“abc” is not a page number"),
        ("0", "Page 0 does not exist: pages are numbered from 1."),
        ("1001", "an unfiltered list goes up to page 1000"),
        ("7", "Page 7 does not exist: the list ends before it"),
    ],
)
def test_a_page_that_does_not_exist_is_a_404_that_says_why(operator, queue, page, said):
    queue.write(make_message())
    response = operator.get(admin_url("list", "default", "queued"), {"page": page})
    assert response.status_code == 404
    assert said in response.text
    assert "Go to the first page" in response.text


def test_the_first_page_and_an_empty_list_are_no_error(operator, queue):
    url = admin_url("list", "default", "queued")
    assert operator.get(url).status_code == 200
    assert operator.get(url, {"page": "1"}).status_code == 200


def test_the_deepest_page_says_the_list_goes_on(operator, queue, monkeypatch):
    monkeypatch.setattr("djqueue.admin.views.PER_PAGE", 1)
    monkeypatch.setattr("djqueue.admin.views.MAX_PAGE", 2)
    queue.write_many([make_message() for _ in range(3)])
    url = admin_url("list", "default", "queued")

    last = operator.get(url, {"page": 2})
    deeper = operator.get(url, {"page": 3})

    assert last.status_code == 200
    assert last.context["listing"].beyond
    assert "The list goes on past this page, page 2" in last.text
    assert deeper.status_code == 404
    assert "goes up to page 2" in deeper.text


# -- Long values --------------------------------------------------------------


def test_a_huge_argument_is_cut_with_a_show_all(operator, queue):
    message = make_message(args=(list(range(3000)),))
    queue.write(message)

    page = operator.get(admin_url("message", "default", message.id))

    [(_, text, preview, lines)] = page.context["arguments"].previews
    assert lines == 3000
    assert preview.count("\n") == 11
    assert "Show all (3000 lines)" in page.text
    assert "2999]" in text
