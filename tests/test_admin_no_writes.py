"""Viewing the admin never writes a message, on every backend: Django's
template engine calls the callables it meets, and calling a command enqueues
(issue 12, item 1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template

from djqueue import get_queue
from djqueue.commands.periodic import _periodic, periodic_command
from djqueue.commands.registry import registry
from djqueue.commands.result import Result
from djqueue.states import State

from .admin_helpers import ALL_PERMS, admin_url, populate, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def periodic_commands():
    """Two periodic commands on the default queue: an interval and a cron."""

    def sweep():
        return "swept"

    def nightly():
        return "night"

    made = [
        periodic_command(every=timedelta(minutes=1), name="tests.sweep")(sweep),
        periodic_command(cron="0 3 * * *", name="tests.nightly")(nightly),
    ]
    yield made
    for command in made:
        _periodic.pop(command.name)
        registry.unregister(command.name)


def every_state(queue) -> dict[State, list[str]]:
    """The ids of the messages in each state (and so their counts)."""
    return {
        state: sorted(m.id for m in queue.list_messages(state, 0, 1000))
        for state in State
    }


def test_viewing_every_page_stores_no_message(
    backend,
    client,
    django_user_model,
    periodic_commands,
    django_capture_on_commit_callbacks,
):
    """Each page, fetched three times by a user with every permission,
    leaves every state of the queue as it was; the periodic page names
    its commands. (Writes a RedisQueue defers to the commit are run, as
    outside the test's transaction.)"""
    queue = get_queue()
    ids = populate(queue)
    client.force_login(staff_user(django_user_model, "operator", *ALL_PERMS))
    before, counts = every_state(queue), queue.counts()
    assert sum(counts.values()) == len(State)
    listing = admin_url("list", "default", "done")
    urls = [admin_url("changelist"), admin_url("periodic")]
    urls += [admin_url("list", "default", state) for state in State]
    urls += [admin_url("message", "default", ids[state]) for state in State]
    urls += [admin_url("change", ids[state]) for state in State]
    urls += [admin_url("purge", "default", State.FAILED)]
    urls += [
        f"{listing}?command=tests.done",
        f"{listing}?q=tests.sweep",
        f"{listing}?q={ids[State.QUEUED]}",
        f"{listing}?argument=2&error=boom",
        admin_url("live"),
        f"{admin_url('search')}?queue=default&state=failed&error=boom",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            for url in urls:
                assert client.get(url).status_code in (200, 302), url
    assert queue.counts() == counts
    assert every_state(queue) == before
    page = client.get(admin_url("periodic")).text
    assert "<code>tests.sweep</code>" in page
    assert "<code>tests.nightly</code>" in page


def test_templates_never_call_a_command_or_a_result_handle(backend):
    """A template that meets a command shows it and its name; one that
    meets a result handle neither cancels the message nor waits for it."""
    queue = get_queue()
    ran = []

    def probe():
        ran.append(True)

    command = periodic_command(every=timedelta(hours=1), name="tests.probe")(probe)
    try:
        message = make_message("tests.probe")
        queue.write(message)
        handle = Result(message.id, "default")
        template = Template(
            "{{ c }}|{{ c.name }}|{{ c.call_local }}|{{ c.map }}|"
            "{{ c.enqueue_in }}|{{ r.cancel }}|{{ r.get }}|{{ r.status }}"
        )
        text = template.render(Context({"c": command, "r": handle}))
    finally:
        _periodic.pop(command.name)
        registry.unregister(command.name)
    assert text == "&lt;QueueCommand tests.probe&gt;|tests.probe||||||queued"
    assert ran == []
    assert [m.id for m in queue.list_messages(State.QUEUED)] == [message.id]
    assert queue.counts()[State.CANCELLED] == 0
