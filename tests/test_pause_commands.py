"""``manage.py queue_pause`` and ``queue_resume``, and the pause as
``queue_info`` shows it, on each backend."""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from djqueue import get_queue

from .dead_servers import SilentServer, configure_dead_queue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]

MINIMAL = "tests.minimal_backend.MinimalQueue"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_queue_pause_pauses_with_who_and_why():
    said = run("queue_pause", "default", "--reason", "deploying", "--by", "alice")

    pause = get_queue().pause_state()
    assert (pause.by, pause.reason) == ("alice", "deploying")
    since = pause.since.isoformat(timespec="seconds")
    assert said == f"Paused queue default by alice since {since}: deploying.\n"


def test_queue_pause_says_who_runs_it_by_default():
    run("queue_pause", "default")

    assert "@" in get_queue().pause_state().by


def test_pausing_a_paused_queue_says_so_and_keeps_the_first_pause():
    run("queue_pause", "default", "--by", "alice")

    said = run("queue_pause", "default", "--by", "bob", "--reason", "later")

    assert get_queue().pause_state().by == "alice"
    assert said.startswith("Queue default was already paused by alice since ")
    assert said.endswith("; left as it was.\n")


def test_queue_resume_says_what_it_ended():
    run("queue_pause", "default", "--by", "alice", "--reason", "r")

    said = run("queue_resume", "default")

    assert get_queue().pause_state() is None
    assert said.startswith("Resumed queue default, paused by alice since ")
    assert said.endswith(": r.\n")
    assert run("queue_resume", "default") == "Queue default was not paused.\n"


def test_queue_info_shows_the_pause_in_text_and_json():
    run("queue_pause", "default", "--by", "alice", "--reason", "deploying")
    pause = get_queue().pause_state()

    text = run("queue_info", "default")
    [summary] = json.loads(run("queue_info", "default", "--json"))

    since = pause.since.isoformat(timespec="seconds")
    assert f"Queue default is paused by alice since {since}: deploying." in text
    assert summary["paused"] == {
        "by": "alice",
        "since": pause.since.isoformat(),
        "reason": "deploying",
    }


def test_queue_info_of_a_running_queue_says_nothing_of_pauses():
    text = run("queue_info", "default")
    [summary] = json.loads(run("queue_info", "default", "--json"))

    assert "paused" not in text
    assert summary["paused"] is None


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("queue_pause",), "Name the queues to pause, or pass --all (not both)."),
        (
            ("queue_resume", "default", "--all"),
            "Name the queues to resume, or pass --all (not both).",
        ),
        (("queue_pause", "nowhere"), "No queue is named 'nowhere'"),
        (("queue_pause", "default", "--by", " "), "'by' cannot be empty"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_paused(args, error):
    with pytest.raises(
        CommandError, match=error.replace("(", r"\(").replace(")", r"\)")
    ):
        run(*args)

    assert get_queue().pause_state() is None


@pytest.fixture
def with_minimal_queue(backend, settings):
    """``default`` beside ``memory``, a queue of a backend without pauses."""
    from django.conf import settings as django_settings

    working = getattr(django_settings, "QUEUES", None) or {
        "default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"}
    }
    settings.QUEUES = {**working, "memory": {"BACKEND": MINIMAL}}


@pytest.mark.usefixtures("with_minimal_queue")
def test_a_queue_that_cannot_be_paused_is_an_error_naming_its_backend():
    with pytest.raises(CommandError) as raised:
        run("queue_pause", "default", "memory")

    assert str(raised.value) == (
        "Queue 'memory' cannot be paused: its backend, MinimalQueue, does not "
        "support pausing (supports_pause is False)."
    )
    assert get_queue().pause_state() is None


@pytest.mark.usefixtures("with_minimal_queue")
def test_all_pauses_and_resumes_every_queue_that_can_be():
    said = run("queue_pause", "--all", "--by", "alice")

    assert get_queue().pause_state().by == "alice"
    assert said.startswith("Paused queue default by alice")
    assert "memory" not in said
    assert run("queue_resume", "--all").startswith("Resumed queue default")
    assert get_queue().pause_state() is None


def test_a_hung_server_is_reported_at_once_with_exit_status_69(settings):
    server = SilentServer()
    outcome = []

    def pause():
        try:
            run("queue_pause", "dead")
        except CommandError as exc:
            outcome.append(exc)

    try:
        configure_dead_queue(settings, server.port)
        thread = threading.Thread(target=pause, daemon=True)
        thread.start()
        thread.join(timeout=60)  # a hang guard, not a speed assertion
        assert not thread.is_alive(), "queue_pause waited as long as a consumer"
        [error] = outcome
        assert error.returncode == 69
        assert str(error).startswith("Cannot reach queue 'dead': ")
    finally:
        server.stop()
