"""The optional pause part: a queue that consumers stop claiming from.

A backend that derives from :class:`Pausing` supports it (``supports_pause``
is True). The flag is kept in the queue's store, so every consumer on every
host sees it; while it is set, messages are still written (they wait) and
the messages that run go on, but no consumer claims a new one.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from datetime import datetime

from .base import BaseQueue

#: The longest ``paused_by`` and ``reason`` stored; longer ones are refused.
MAX_BY_LENGTH = 255
MAX_REASON_LENGTH = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class Pause:
    """Who paused a queue, when, and why (``reason`` may be empty)."""

    by: str
    since: datetime
    reason: str = ""


def check_pause(by: str, reason: str) -> None:
    """Raise ``ValueError`` naming the fix if ``by`` or ``reason`` cannot be
    stored: every backend refuses the same input."""
    if not by.strip():
        raise ValueError("Say who pauses the queue: 'by' cannot be empty.")
    if len(by) > MAX_BY_LENGTH:
        raise ValueError(
            f"'by' is {len(by)} characters long; shorten it to {MAX_BY_LENGTH}."
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise ValueError(
            f"The reason is {len(reason)} characters long; shorten it to "
            f"{MAX_REASON_LENGTH}."
        )


class Pausing(BaseQueue):
    """A paused flag per queue, with who set it, when and why."""

    # Whether the queue can be paused (pause(), resume(), pause_state()).
    supports_pause = True

    @abstractmethod
    def pause(self, by: str, reason: str = "", now: datetime | None = None) -> Pause:
        """Pause the queue, as ``by`` at ``now``, for ``reason``; return the
        pause now in force.

        Pausing a paused queue changes nothing and returns the first pause:
        who paused it first and since when stays known. ``by`` must not be
        empty; both are bounded (see :func:`check_pause`)."""

    @abstractmethod
    def resume(self) -> Pause | None:
        """Clear the pause; return the pause it ended, or ``None`` if the
        queue was not paused."""

    @abstractmethod
    def pause_state(self) -> Pause | None:
        """Return the pause in force, or ``None``: one small read, which a
        consumer makes about once a second per queue."""
