"""The progress and metadata a running command reports, and their stored form.

A running command calls :func:`djqueue.set_progress` and
:func:`djqueue.set_meta`; the consumer gives its run a
:class:`ProgressReporter`, which checks each value, keeps the latest on the
message and writes it to the store through a callable of the consumer's
(the backend's ``set_progress``), at most once per
:data:`WRITE_INTERVAL` seconds, and once more when the run ends if the last
value was not written yet. The stored form is one JSON object,
:data:`MAX_PROGRESS_BYTES` at most: ``done``, ``total`` (or null), ``note``,
``meta`` (an object of the command's own values) and ``at`` (when it was
set, ISO 8601). :func:`decode_progress` reads it back as a
:class:`Progress`; backends store the text without reading it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from ..exceptions import InvalidProgress

if TYPE_CHECKING:
    from .message import Message

    #: Stores the encoded progress of a leased message; returns False if the
    #: message's lease is no longer held (the write changed nothing).
    ProgressStore = Callable[[Message, str], bool]

logger = logging.getLogger("djqueue.consumer")

#: The most bytes the progress and metadata of one message take as JSON.
MAX_PROGRESS_BYTES = 16 * 1024
#: The fewest seconds between two writes of one run's progress to the store.
WRITE_INTERVAL = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """What a command last reported of its run: ``done`` of ``total`` (None
    when unknown), a ``note``, its metadata ``meta`` and when it was set."""

    done: float = 0
    total: float | None = None
    note: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def fraction(self) -> float | None:
        """``done / total``, between 0 and 1; None when the total is unknown."""
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def percent(self) -> int | None:
        """The fraction as a whole percentage, rounded down; None without a total."""
        fraction = self.fraction
        return None if fraction is None else int(fraction * 100)


def decode_progress(text: str) -> Progress | None:
    """Return the stored progress ``text`` as a :class:`Progress`, or None
    for none; never raises (what cannot be read counts as none)."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    done, total = data.get("done", 0), data.get("total")
    meta, note = data.get("meta", {}), data.get("note", "")
    try:
        updated_at = datetime.fromisoformat(data.get("at", ""))
    except (TypeError, ValueError):
        updated_at = None
    return Progress(
        done=done if _is_number(done) else 0,
        total=total if _is_number(total) else None,
        note=note if isinstance(note, str) else "",
        meta=meta if isinstance(meta, dict) else {},
        updated_at=updated_at,
    )


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_counts(done: object, total: object, note: object) -> None:
    """Raise :class:`~djqueue.exceptions.InvalidProgress` unless ``done`` is
    a number of at least 0, ``total`` None or a number above 0, and
    ``note`` text."""
    if not _is_number(done) or done < 0:
        raise InvalidProgress(
            f"set_progress() takes a number of at least 0 for done, not {done!r}."
        )
    if total is not None and (not _is_number(total) or total <= 0):
        raise InvalidProgress(
            "set_progress() takes None (unknown) or a number above 0 for total, "
            f"not {total!r}."
        )
    if not isinstance(note, str):
        raise InvalidProgress(f"set_progress() takes text for note, not {note!r}.")


def encode_progress(state: dict[str, Any], message_id: str = "") -> str:
    """Return ``state`` as the stored JSON text; raise
    :class:`~djqueue.exceptions.InvalidProgress` if a value is not JSON or
    the text is over :data:`MAX_PROGRESS_BYTES`."""
    try:
        text = json.dumps(state, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidProgress(
            f"Progress and metadata must be JSON values (text, numbers, "
            f"booleans, None, lists and dicts of them): {exc}."
        ) from None
    size = len(text.encode())
    if size > MAX_PROGRESS_BYTES:
        of = f" of message {message_id}" if message_id else ""
        raise InvalidProgress(
            f"The progress and metadata{of} take {size} bytes as JSON, over the "
            f"limit of {MAX_PROGRESS_BYTES} (MAX_PROGRESS_BYTES): keep less in "
            "them, or keep a reference (a file name, a primary key) to the rest."
        )
    return text


class ProgressReporter:
    """One run's progress: checks each value, keeps the latest on the
    message and writes it through ``store`` (None: keep it on the message
    only), at most once per ``interval`` seconds of ``clock``.

    A value set less than ``interval`` after the last write waits for the
    next call after it, or for :meth:`flush` at the end of the run. A write
    the store refuses (the lease was lost: a newer attempt may be running)
    is logged, and the run writes nothing more; one that raises is logged,
    and the next value tries again. A run's first value replaces what an
    earlier attempt stored: it starts from nothing.
    """

    __slots__ = (
        "_due",
        "_state",
        "_written",
        "clock",
        "interval",
        "message",
        "store",
        "wall",
    )

    def __init__(
        self,
        message: Message,
        store: ProgressStore | None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        interval: float = WRITE_INTERVAL,
    ) -> None:
        self.message = message
        self.store = store
        self.clock = clock
        self.wall = wall
        self.interval = interval
        self._state: dict[str, Any] | None = None
        #: The clock's time when the next write may happen; None: a write is
        #: pending as soon as a value is set.
        self._due: float | None = None
        #: The last text the store was given.
        self._written = ""

    def set_progress(self, done: float, total: float | None, note: str) -> None:
        check_counts(done, total, note)
        state = self._state or {"meta": {}}
        self._set({**state, "done": done, "total": total, "note": note})

    def set_meta(self, values: dict[str, Any]) -> None:
        state = self._state or {"done": 0, "total": None, "note": ""}
        self._set({**state, "meta": {**state.get("meta", {}), **values}})

    def _set(self, state: dict[str, Any]) -> None:
        state["at"] = datetime.fromtimestamp(self.wall(), UTC).isoformat()
        text = encode_progress(state, self.message.id)
        self._state = state
        self.message.progress = text
        now = self.clock()
        if self._due is None or now >= self._due:
            self._write(text, now)

    def flush(self) -> None:
        """Write the last value if it was not written yet (the run ended)."""
        if self._due is not None and self._written != self.message.progress:
            self._write(self.message.progress, self.clock())

    def _write(self, text: str, now: float) -> None:
        self._due = now + self.interval
        store = self.store
        if store is None:
            return
        try:
            stored = store(self.message, text)
        except Exception:
            logger.exception(
                "Could not store the progress of message %s", self.message.id
            )
            return
        self._written = text
        if not stored:
            logger.warning(
                "Did not store the progress of message %s: its lease is no "
                "longer this worker's (it expired, and another attempt may "
                "run)",
                self.message.id,
            )
            self.store = None
