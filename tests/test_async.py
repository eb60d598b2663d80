"""``async def`` commands run in the worker, within their timeout, with the
retry policy of sync ones; ``aenqueue``, ``aget`` and ``arefresh`` from async
code; docs/async.rst's examples are the test project's, and run."""

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.management import call_command
from django.db import connections
from django.test import override_settings

from djqueue import (
    AsyncQueueCommand,
    CommandFailed,
    ResultTimeout,
    State,
    current_message,
)
from djqueue.consumer.execution import Outcome, execute
from djqueue.consumer.outcomes import log_outcome
from testproject.demo import async_commands, commands
from testproject.demo.models import Run

from .factories import make_message
from .processes import wait_until

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "async.rst"

pytestmark = pytest.mark.django_db(transaction=True)


def run_queue(*args):
    call_command("run_queue", "--burst", *args, verbosity=0)


@pytest.mark.usefixtures("backend")
def test_an_async_command_runs_with_the_async_orm_and_returns_its_value():
    first = async_commands.record_visit("home")
    second = async_commands.record_visit("home")
    run_queue("--concurrency", "1")
    assert (first.get(timeout=0), second.get(timeout=0)) == (1, 2)
    assert set(Run.objects.values_list("message_id", flat=True)) == {
        first.id,
        second.id,
    }


@pytest.mark.usefixtures("backend")
def test_sync_to_async_calls_run_in_the_worker_thread_like_sync_commands():
    sync = commands.worker_thread()
    awaited = commands.sync_to_async_thread()
    run_queue("--concurrency", "1")
    assert awaited.get(timeout=0) == sync.get(timeout=0)


@pytest.mark.usefixtures("backend")
def test_a_coroutine_past_its_timeout_is_cancelled_and_retried_then_fails():
    result = async_commands.wait_for_ever()
    run_queue()
    message = result.message
    assert message.state == State.FAILED
    assert message.attempts == 2
    assert "CommandTimedOut: timed out after 0.1s" in message.error
    assert [e["exception"] for e in message.attempt_errors] == [
        "djqueue.exceptions.CommandTimedOut"
    ] * 2


@pytest.mark.usefixtures("backend")
def test_an_exception_follows_the_retry_policy_and_context_is_the_message():
    result = commands.fails_once_async("ctx")
    run_queue()
    assert result.get(timeout=0) == {"attempt": 2, "id": result.id}
    (error,) = result.message.attempt_errors
    assert "RuntimeError: ctx: attempt 1 fails" in error["error"]


@pytest.mark.usefixtures("backend")
def test_retry_raised_in_a_coroutine_runs_it_again():
    result = async_commands.not_yet()
    run_queue()
    assert result.get(timeout=0) == "second time"
    assert result.message.attempts == 2


def test_only_a_sync_run_past_its_timeout_on_threads_is_logged_as_unenforced(caplog):
    cancelled = make_message(
        async_commands.wait_for_ever.name, options={"timeout": 0.1}
    )
    outcome = execute(cancelled)
    assert outcome.exception == "djqueue.exceptions.CommandTimedOut"
    log_outcome(cancelled, outcome, elapsed=0.2)
    assert "cannot be interrupted" not in caplog.text
    overran = make_message(commands.overruns.name, options={"timeout": 0.1})
    log_outcome(overran, Outcome(State.DONE), elapsed=0.2)
    assert "cannot be interrupted" in caplog.text


def test_a_timeout_the_coroutine_raises_itself_is_an_ordinary_error():
    message = make_message(commands.raises_timeout.name, options={"timeout": 5})
    outcome = execute(message)
    assert outcome.exception == "builtins.TimeoutError"
    assert outcome.timeout_enforced


@override_settings(QUEUE_IMMEDIATE=True)
def test_immediate_mode_runs_async_commands_also_from_async_code():
    assert async_commands.record_visit("inline").get() == 1

    async def view():
        called = async_commands.record_visit("inline")  # from a running loop
        enqueued = await async_commands.record_visit.aenqueue("inline")
        return called, await enqueued.aget(), await async_commands.not_yet.aenqueue()

    called, value, retried = async_to_sync(view)()
    assert (called.get(), value) == (2, 3)
    # Immediate mode runs one attempt: a Retry fails it.
    with pytest.raises(CommandFailed, match="not yet"):
        retried.get()


@pytest.mark.usefixtures("backend")
def test_aenqueue_aget_and_arefresh_from_async_code():
    async def enqueue():
        result = await commands.add.aenqueue(2, 3)
        with pytest.raises(ResultTimeout):
            await result.aget(timeout=0)
        # Outside a request, the thread-sensitive calls ran in asgiref's
        # one shared thread: its connection is this code's to close.
        await sync_to_async(connections.close_all)()
        return result

    result = asyncio.run(enqueue())
    assert result.status == State.QUEUED
    run_queue()

    async def fetch():
        await result.arefresh()
        return result.message.state, await result.aget(timeout=5)

    assert async_to_sync(fetch)() == (State.DONE, 5)


def test_call_local_returns_the_coroutine():
    assert asyncio.run(commands.in_process.call_local()) == os.getpid()
    assert current_message() is None


def test_an_async_command_is_typed_by_what_its_coroutine_returns():
    """``@queue_command`` makes an AsyncQueueCommand of a coroutine
    function (to a type checker its Result holds the coroutine's value: see
    tests/typing_usage.py), and ``using()`` keeps the kind."""
    assert isinstance(commands.in_process, AsyncQueueCommand)
    assert isinstance(commands.in_process.using(priority=1), AsyncQueueCommand)
    assert not isinstance(commands.add, AsyncQueueCommand)


@pytest.mark.process
def test_process_workers_cancel_a_coroutine_at_its_timeout_and_keep_the_child(
    start_consumer,
):
    before = commands.in_process()
    timed_out = async_commands.wait_for_ever()
    after = commands.in_process()
    proc = start_consumer("--worker-type", "process", "-c", "1", "--burst")
    wait_until(finished([before, timed_out, after]), 60, "three messages", proc)
    assert proc.wait(30) == 0
    assert timed_out.status == State.FAILED
    assert "CommandTimedOut: timed out after 0.1s" in timed_out.error
    # The child cancelled the coroutine itself: it was not killed.
    assert before.get(timeout=0) == after.get(timeout=0) != proc.pid


@pytest.mark.process
def test_sigterm_past_the_grace_period_releases_a_waiting_coroutine_and_exits(
    start_consumer,
):
    result = commands.record_then_wait("waiting")
    proc = start_consumer("-c", "1", "--grace-period", "0.2")
    wait_until(
        lambda: Run.objects.filter(label="waiting").exists(), 30, "the run", proc
    )
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.log()
    assert result.status == State.QUEUED
    assert result.message.attempts == 0
    assert "Released 1 unfinished message" in proc.log()


def finished(results):
    return lambda: all(r.ready() for r in results)


def page_block(caption):
    """The page's Python block with this caption, dedented."""
    block = re.search(
        rf"\.\. code-block:: python\n    :caption: {re.escape(caption)}\n\n"
        r"(?P<body>(?:(?:    .*)?\n)+)",
        PAGE.read_text(),
    )
    assert block, f"the page shows {caption}"
    lines = block["body"].rstrip("\n").split("\n")
    return "\n".join(line[4:] for line in lines) + "\n"


def test_the_pages_commands_are_the_test_projects():
    code = page_block("demo/async_commands.py")
    assert code == Path(async_commands.__file__).read_text()


@pytest.mark.usefixtures("backend")
def test_the_pages_views_enqueue_and_wait_from_async_code(rf):
    code = page_block("demo/views.py")
    views = {
        "__name__": "testproject.demo.page_views",
        "__package__": "testproject.demo",
    }
    exec(compile(code, f"{PAGE}: demo/views.py", "exec"), views)
    views["WAIT"] = 0  # a view that answers at once

    response = async_to_sync(views["visit"])(rf.get("/pricing/"))
    message_id = json.loads(response.content)["id"]
    waiting = async_to_sync(views["visits"])(rf.get("/"), message_id)
    assert json.loads(waiting.content) == {"ready": False}
    run_queue()
    done = async_to_sync(views["visits"])(rf.get("/"), message_id)
    assert json.loads(done.content) == {"ready": True, "visits": 1}
