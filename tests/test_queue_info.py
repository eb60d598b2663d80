"""``manage.py queue_info``: counts, oldest age, runs and consumers."""

import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from djqueue import get_queue
from djqueue.backends.inspection import ConsumerInfo
from djqueue.states import State

from .dead_servers import SilentServer, configure_dead_queue
from .factories import make_message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


def run(*args) -> str:
    out = StringIO()
    call_command("queue_info", *args, stdout=out)
    return out.getvalue()


def populate():
    queue = get_queue()
    now = timezone.now()
    queue.write(make_message(eta=now - timedelta(minutes=7)))
    queue.write(make_message(eta=now + timedelta(hours=1)))
    queue.record_runs({("app.x", State.DONE): 5, ("app.x", State.FAILED): 2})
    queue.register_consumer(
        ConsumerInfo(
            id="web-1:4242", host="web-1", pid=4242, queues=("default",),
            concurrency=8, worker_type="process", started_at=now,
            heartbeat_at=now,
        ),
        ttl=60,
    )  # fmt: skip


def test_table_shows_counts_age_runs_and_consumers():
    populate()

    text = run("default")

    header, default = text.splitlines()[:2]
    assert header.split()[:4] == ["queue", "queued", "scheduled", "running"]
    assert default.split() == [
        "default",
        "1",
        "1",
        "0",
        "0",
        "0",
        "0",
        "0",
        "7m",
        "5",
        "2",
    ]
    assert "web-1:4242" in text
    assert "8 process" in text


def test_json_output():
    populate()

    [summary] = json.loads(run("default", "--json"))

    assert summary["counts"]["queued"] == 1
    assert summary["done_last_hour"] == 5
    assert summary["failed_last_hour"] == 2
    assert [c["pid"] for c in summary["consumers"]] == [4242]


def test_no_consumer_is_said():
    assert "No consumer is alive." in run("default")


def test_unknown_queue_is_an_error():
    with pytest.raises(CommandError, match="nope"):
        run("nope")


def test_a_hung_redis_is_reported_at_once_not_waited_for(settings):
    """A queue whose server accepts and never answers is read through its
    bounded inspection twin: one connection, no retries, exit 69."""
    server = SilentServer()
    outcome = []

    def read():
        try:
            run("dead")
        except CommandError as exc:
            outcome.append(exc)

    try:
        configure_dead_queue(settings, server.port)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=60)  # a hang guard, not a speed assertion
        assert not reader.is_alive(), "queue_info waited as long as a consumer"
        [error] = outcome
        assert error.returncode == 69
        assert "Cannot read the queues" in str(error)
        assert len(server.accepted) == 1
    finally:
        server.stop()
