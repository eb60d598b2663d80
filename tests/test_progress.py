"""Progress and metadata reported by a running command: the checks, the
coalescing of writes (on an injected clock), the refusal of a stale writer,
and the handle reading them back from each backend after a consumer ran
the command, sync and async."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from djqueue import (
    InvalidProgress,
    Progress,
    Result,
    State,
    get_queue,
    set_meta,
    set_progress,
)
from djqueue.consumer import Consumer
from djqueue.consumer.progress import store_progress
from djqueue.context import running
from djqueue.envelope.progress import (
    MAX_PROGRESS_BYTES,
    ProgressReporter,
    decode_progress,
)
from testproject.demo import commands

from .factories import make_message


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Store:
    """A progress store that records what it is given."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.writes: list[dict] = []

    def __call__(self, message, text: str) -> bool:
        self.writes.append(json.loads(text))
        return self.answer


def reporter(store, clock=None):
    return ProgressReporter(make_message(), store, clock=clock or Clock())


def test_the_first_value_is_written_at_once():
    store = Store()
    report = reporter(store)

    report.set_progress(1, 10, "one")

    assert [(w["done"], w["total"], w["note"]) for w in store.writes] == [
        (1, 10, "one")
    ]


def test_values_within_the_interval_are_coalesced_into_the_next_write():
    store, clock = Store(), Clock()
    report = reporter(store, clock)
    for done in range(1, 101):  # a loop calling it per item, in 0.1 s
        clock.now = done / 1000
        report.set_progress(done, 100, "")

    assert [w["done"] for w in store.writes] == [1]
    clock.now = 0.6
    report.set_progress(101, 200, "")
    assert [w["done"] for w in store.writes] == [1, 101]


def test_the_last_value_is_written_when_the_run_ends():
    """(On the real clock: a slow machine may write more in between.)"""
    store = Store()
    message = make_message()
    with running(message, store):
        set_progress(1, total=3)
        set_progress(2, total=3)
        set_meta(file="a.csv")

    assert (store.writes[0]["done"], store.writes[0]["meta"]) == (1, {})
    assert (store.writes[-1]["done"], store.writes[-1]["meta"]) == (
        2,
        {"file": "a.csv"},
    )
    assert decode_progress(message.progress) == Progress(
        2, 3, "", {"file": "a.csv"}, decode_progress(message.progress).updated_at
    )


def test_a_run_that_reports_nothing_writes_nothing():
    store = Store()
    with running(make_message(), store):
        pass

    assert store.writes == []


def test_nothing_is_written_again_when_the_last_write_was_the_last_value():
    store = Store()
    with running(make_message(), store):
        set_progress(1)

    assert len(store.writes) == 1


def test_metadata_and_progress_keep_each_other():
    store, clock = Store(), Clock()
    report = reporter(store, clock)
    report.set_meta({"file": "a.csv"})
    clock.now = 1
    report.set_progress(5, None, "reading")
    clock.now = 2
    report.set_meta({"rows": 7})

    assert store.writes[-1]["meta"] == {"file": "a.csv", "rows": 7}
    assert (store.writes[-1]["done"], store.writes[-1]["note"]) == (5, "reading")


def test_a_refused_write_is_logged_and_the_run_writes_no_more(caplog):
    """The lease was lost: a newer attempt may be running."""
    store, clock = Store(answer=False), Clock()
    report = reporter(store, clock)

    with caplog.at_level(logging.WARNING, logger="djqueue.consumer"):
        report.set_progress(1, None, "")
    clock.now = 5
    report.set_progress(2, None, "")
    report.flush()

    assert len(store.writes) == 1
    assert "its lease is no longer this worker's" in caplog.text


def test_a_store_that_raises_is_logged_and_the_command_goes_on(caplog):
    clock = Clock()

    def broken(message, text):
        raise ConnectionError("server gone")

    report = reporter(broken, clock)
    with caplog.at_level(logging.ERROR, logger="djqueue.consumer"):
        report.set_progress(1, None, "")

    assert "Could not store the progress" in caplog.text
    assert decode_progress(report.message.progress).done == 1


@pytest.mark.parametrize(
    ("done", "total", "note", "named"),
    [
        (-1, None, "", "done"),
        ("3", None, "", "done"),
        (True, None, "", "done"),
        (1, 0, "", "total"),
        (1, "ten", "", "total"),
        (1, None, 5, "note"),
    ],
)
def test_a_bad_count_raises_in_the_command_naming_it(done, total, note, named):
    with running(make_message(), Store()), pytest.raises(InvalidProgress) as raised:
        set_progress(done, total=total, note=note)

    assert f"for {named}" in str(raised.value)


def test_metadata_that_is_not_json_raises():
    with running(make_message(), Store()), pytest.raises(InvalidProgress) as raised:
        set_meta(when=object())

    assert "must be JSON values" in str(raised.value)


def test_more_than_the_limit_raises_naming_it_and_stores_nothing():
    store = Store()
    message = make_message()
    with running(message, store), pytest.raises(InvalidProgress) as raised:
        set_meta(blob="x" * MAX_PROGRESS_BYTES)

    assert f"over the limit of {MAX_PROGRESS_BYTES}" in str(raised.value)
    assert message.id in str(raised.value)
    assert store.writes == []
    assert message.progress == ""


def test_outside_a_run_values_are_checked_and_nothing_is_stored():
    set_progress(1, total=2, note="fine")
    set_meta(fine=True)

    with pytest.raises(InvalidProgress):
        set_progress(-1)
    with pytest.raises(InvalidProgress):
        set_meta(blob="x" * MAX_PROGRESS_BYTES)


def test_stored_text_that_cannot_be_read_counts_as_none():
    assert decode_progress("") is None
    assert decode_progress("not json") is None
    assert decode_progress("[1]") is None
    odd = decode_progress('{"done": "x", "total": true, "note": 1, "meta": []}')
    assert odd == Progress()


def test_the_fraction_is_bounded_and_unknown_without_a_total():
    assert Progress(done=3, total=4).percent == 75
    assert Progress(done=9, total=4).fraction == 1.0
    assert Progress(done=3).fraction is None


# -- On each backend, through a consumer ----------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_the_handle_reads_what_the_command_reported():
    result = commands.import_reports(["a", "b", "c"])
    assert result.progress is None

    Consumer(["default"], 1, burst=True).run()

    progress = result.progress
    assert result.status == State.DONE
    assert (progress.done, progress.total, progress.note) == (3, 3, "imported 'c'")
    assert result.meta == {"source": "titles", "count": 3}
    assert progress.updated_at is not None
    assert Result(result.id, "default").progress == progress


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_an_async_command_reports_from_its_coroutine_and_its_sync_code(caplog):
    result = commands.counts_steps(4)

    with caplog.at_level(logging.WARNING, logger="djqueue"):
        Consumer(["default"], 1, burst=True).run()

    assert "progress" not in caplog.text

    assert result.get(timeout=0) == 4
    assert (result.progress.done, result.progress.note) == (4, "step 4")
    assert result.meta == {"finished_in": "sync code"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_a_write_from_an_event_loop_reaches_the_store():
    """Django refuses database calls in a thread that runs an event loop:
    the write is made in a thread of its own, and waited for."""
    queue = get_queue()
    queue.write(make_message())
    (message,) = queue.claim("w", 30)

    async def report():
        return store_progress(message, '{"done":1}')

    assert asyncio.run(report()) is True
    assert queue.get(message.id).progress == '{"done":1}'


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_the_async_handle_reads_the_progress():
    from asgiref.sync import async_to_sync

    result = commands.import_reports(["a"])
    Consumer(["default"], 1, burst=True).run()

    progress = async_to_sync(result.aprogress)()

    assert (progress.done, progress.total) == (1, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_a_failed_command_keeps_what_it_reported():
    message = make_message(commands.progress_then_wait.name, ("", 0), max_attempts=1)
    get_queue().write(message)
    handle = Result(message.id, "default")

    Consumer(["default"], 1, burst=True).run()

    assert handle.status == State.FAILED  # it found no path ""
    assert handle.progress.note == "attempt 1"


@pytest.mark.django_db
def test_immediate_mode_keeps_the_progress_on_the_handle(settings):
    settings.QUEUE_IMMEDIATE = True

    result = commands.import_reports(["a", "b"])

    assert result.get() == 2
    assert (result.progress.done, result.progress.total) == (2, 2)
    assert result.meta == {"source": "titles", "count": 2}
