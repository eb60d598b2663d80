"""The admin with a queue whose Redis hangs (accepts connections and never
answers) or refuses connections, beside a working queue on every backend:
each page answers, shows the dead queue as unavailable and the working
queue's data (issue 12, item 2).

Requests go to pytest-django's live server over HTTP with a client timeout,
a generous ceiling that only guards against a hang; nothing is timed.
"""

from __future__ import annotations

import threading
import urllib.request
from datetime import timedelta

import pytest

from djqueue import get_queue
from djqueue.commands.periodic import _periodic, periodic_command
from djqueue.commands.registry import registry
from djqueue.states import State

from .admin_helpers import admin_url, populate, staff_user
from .dead_servers import SilentServer, configure_dead_queue, refused_port
from .processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

#: Seconds a page may take before the test calls it hung.
HANG_GUARD = 60
UNKNOWN_ID = "01890000-0000-7000-8000-000000000000"


@pytest.fixture(params=["hung", "refused"])
def dead(request, backend, settings):
    """The queue ``dead`` on a silent server or a refused port; yields the
    error its pages show."""
    if request.param == "refused":
        configure_dead_queue(settings, refused_port())
        yield "ConnectionError"
        return
    server = SilentServer()
    configure_dead_queue(settings, server.port)
    yield "TimeoutError"
    server.stop()


@pytest.fixture
def hung(settings, db):
    """The queue ``dead`` on a silent server, beside a DatabaseQueue."""
    server = SilentServer()
    configure_dead_queue(settings, server.port)
    yield server
    server.stop()


@pytest.fixture
def on_dead_queue():
    def ping():
        return "pong"

    command = periodic_command(
        every=timedelta(minutes=5), queue="dead", name="tests.dead_ping"
    )(ping)
    yield command
    _periodic.pop(command.name)
    registry.unregister(command.name)


@pytest.fixture
def fetch(live_server, client, django_user_model):
    """GET a path as a logged-in viewer; return (status, text)."""
    client.force_login(
        staff_user(django_user_model, "viewer", "view_message", "purge_queue")
    )
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    def get(path: str) -> tuple[int, str]:
        request = urllib.request.Request(
            f"{live_server.url}{path}", headers={"Cookie": cookie}
        )
        with urllib.request.urlopen(request, timeout=HANG_GUARD) as response:
            return response.status, response.read().decode()

    return get


def test_every_page_answers_with_the_dead_queue_unavailable(dead, fetch, on_dead_queue):
    working = get_queue()
    ids = populate(working)
    unavailable = "cannot be read"

    status, text = fetch(admin_url("changelist"))
    assert status == 200
    assert "Queue dead" in text
    assert dead in text
    assert text.count(unavailable) == 1, "the working queue shows its counts"
    assert admin_url("list", "default", State.FAILED) in text

    for state in State:
        status, text = fetch(admin_url("list", "dead", state))
        assert (status, unavailable in text) == (200, True), state
        status, text = fetch(admin_url("list", "default", state))
        assert (status, unavailable in text) == (200, False), state
        assert ids[state] in text, state

    pages_naming_the_dead_queue = [
        f"{admin_url('list', 'dead', 'done')}?command=tests.done",
        admin_url("message", "dead", UNKNOWN_ID),
        admin_url("purge", "dead", "failed"),
        admin_url("change", UNKNOWN_ID),
        f"{admin_url('list', 'default', 'queued')}?q={UNKNOWN_ID}",
        admin_url("periodic"),
    ]
    for path in pages_naming_the_dead_queue:
        status, text = fetch(path)
        assert (status, unavailable in text or "Unavailable" in text) == (
            200,
            True,
        ), path

    status, text = fetch(f"{admin_url('list', 'default', 'done')}?command=tests.done")
    assert (status, ids[State.DONE] in text) == (200, True)
    # Searched from the dead queue's list, found on the working one.
    status, text = fetch(f"{admin_url('list', 'dead', 'queued')}?q={ids[State.FAILED]}")
    assert (status, "ValueError: &lt;b&gt;boom&lt;/b&gt;" in text) == (200, True)
    status, text = fetch(admin_url("change", ids[State.QUEUED]))
    assert (status, ids[State.QUEUED] in text) == (200, True)
    status, text = fetch("/djqueue/metrics")
    assert 'djqueue_up{queue="dead"} 0' in text
    assert 'djqueue_up{queue="default"} 1' in text


def test_a_hung_queue_is_asked_once_per_page_without_retries(hung, fetch):
    """Each page that reads the hung queue opens one connection to it: no
    retry, and not asked again after it failed (the search by id asks it,
    then the list would)."""
    for path in (
        admin_url("changelist"),
        admin_url("list", "dead", "queued"),
        f"{admin_url('list', 'dead', 'queued')}?q={UNKNOWN_ID}",
        admin_url("message", "dead", UNKNOWN_ID),
    ):
        before = len(hung.accepted)
        status, _ = fetch(path)
        assert status == 200, path
        # The kernel completed the connection; the listener thread may not
        # have taken it off the backlog yet.
        wait_until(lambda n=before: len(hung.accepted) > n, 5, "the accept")
        assert len(hung.accepted) - before == 1, path


def test_the_inspection_bound_wins_over_the_connection_url(hung):
    """A URL's ``socket_timeout`` (which wins over keyword arguments in
    redis-py) does not lift the bound of inspection reads; the consumer's
    client is another one."""
    from redis.exceptions import TimeoutError as RedisTimeout

    from djqueue.backends.redis import RedisQueue

    queue = RedisQueue(
        "dead",
        f"redis://127.0.0.1:{hung.port}/0?socket_timeout=600",
        INSPECT_TIMEOUT=0.5,
    )
    twin = queue.for_inspection()
    outcome = []

    def read():
        try:
            twin.counts()
        except Exception as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=HANG_GUARD)
    try:
        assert not reader.is_alive(), "the read waited for the URL's timeout"
        assert [type(exc) for exc in outcome] == [RedisTimeout]
        assert twin is not queue
        assert twin.client is not queue.client
        assert queue.for_inspection() is twin
    finally:
        queue.close()


@pytest.mark.parametrize("value", [0, -1, "2", True, 61])
def test_a_wrong_inspect_timeout_is_reported_by_check(settings, value):
    from django.core import checks

    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "OPTIONS": {"INSPECT_TIMEOUT": value},
        }
    }
    found = [m.id for m in checks.run_checks() if m.id.startswith("djqueue.")]
    assert found == ["djqueue.E023"]


def test_an_action_on_an_unreachable_queue_says_it_may_not_apply(
    settings, client, django_user_model
):
    """A POST to a queue that refuses comes back to the list with an error,
    not a 500."""
    configure_dead_queue(settings, refused_port())
    client.force_login(
        staff_user(
            django_user_model, "op", "view_message", "retry_message", "purge_queue"
        )
    )
    for url, data in (
        (admin_url("action", "dead", UNKNOWN_ID, "retry"), {}),
        (admin_url("purge", "dead", "failed"), {"confirm": "yes"}),
        (admin_url("bulk", "dead", "failed"), {"action": "retry", "scope": "all"}),
    ):
        response = client.post(url, data, follow=True)
        assert response.status_code == 200, url
        assert "the action may not have been applied" in response.text, url
        assert "This queue cannot be read" in response.text, url
