"""What a running command can learn about the message it runs for, and
what it can report of its run."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .envelope.message import Message
from .envelope.progress import ProgressReporter, check_counts, encode_progress

if TYPE_CHECKING:
    from .envelope.progress import ProgressStore

# A context variable rather than a thread-local: an ``async def`` command
# runs on an event loop in another thread, and its ``sync_to_async`` calls in
# yet another, and asgiref carries context variables to both. It holds the
# run's reporter, which holds the message: one variable to set per run.
_current: ContextVar[ProgressReporter | None] = ContextVar(
    "djqueue_message", default=None
)


def current_message() -> Message | None:
    """Return the message whose command runs in this thread (or, for an
    ``async def`` command, in this task and the sync code it calls), if any.

    Its ``id`` is stable across attempts and ``attempts`` counts this one.
    """
    reporter = _current.get()
    return None if reporter is None else reporter.message


def set_progress(done: float, total: float | None = None, note: str = "") -> None:
    """Report that the running command did ``done`` of ``total`` (None when
    it is not known), with a ``note`` saying what it does now.

    The value replaces the progress this run reported before and keeps its
    metadata (:func:`set_meta`). It is stored at once, for the message's
    handle and the admin to read, except that a run writes at most once per
    half second (:data:`~djqueue.envelope.progress.WRITE_INTERVAL`): a value
    set sooner is written by the next call after it, or when the run ends.
    Raise :class:`~djqueue.exceptions.InvalidProgress` for a count out of
    range, a note that is not text, or more than 16 KiB of progress and
    metadata. Outside a run (a command called directly) the values are
    checked and nothing is stored.
    """
    reporter = _current.get()
    if reporter is None:
        check_counts(done, total, note)
        encode_progress({"done": done, "total": total, "note": note})
    else:
        reporter.set_progress(done, total, note)


def set_meta(**values: Any) -> None:
    """Add ``values`` (JSON values: text, numbers, booleans, None, lists and
    dicts of them) to the running command's metadata, replacing those of the
    same names; stored as :func:`set_progress` stores, with the same limit
    and the same :class:`~djqueue.exceptions.InvalidProgress`."""
    reporter = _current.get()
    if reporter is None:
        encode_progress({"meta": values})
    else:
        reporter.set_meta(values)


def running(message: Message, store: ProgressStore | None = None) -> Running:
    """Make ``message`` the current message for the duration of a ``with``
    block; the progress it reports is written through ``store`` (None: kept
    on the message only), the last value once more when the block ends."""
    return Running(ProgressReporter(message, store))


class Running:
    """The ``with`` block of one run (a class rather than a generator: it
    is entered for every message a consumer runs)."""

    __slots__ = ("reporter", "token")

    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter

    def __enter__(self) -> Message:
        self.token = _current.set(self.reporter)
        return self.reporter.message

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self.token)
        self.reporter.flush()
