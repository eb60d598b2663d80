"""The optional periodic part: each tick of a periodic command written once,
however many consumers try.

A backend that derives from :class:`PeriodicTicks` supports it
(``supports_periodic`` is True); consumers write the ticks of the periodic
commands of such queues only (see :mod:`djqueue.commands.periodic`).
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime

from ..envelope.message import Message
from .base import BaseQueue


class PeriodicTicks(BaseQueue):
    """The latest tick written for each periodic command of one queue."""

    # Whether periodic commands can tick here.
    supports_periodic = True

    @abstractmethod
    def write_tick(self, message: Message, name: str, tick: datetime) -> bool:
        """Write ``message`` as tick ``tick`` of the periodic command
        ``name``, unless that tick or a later one was already written.

        The claim and the write are one atomic step, so each tick is written
        once however many consumers try. Return whether this call wrote it.
        """

    @abstractmethod
    def last_ticks(self) -> dict[str, datetime]:
        """Return the latest tick written for each periodic command on this
        queue."""
