"""The optional statistics part: how many runs finished, per minute and per
command, for the admin's chart and the metrics view.

A backend that derives from :class:`RunStatistics` supports it
(``supports_statistics`` is True); consumers count their runs in memory and
add them to every such queue once per heartbeat. On other backends they
count nothing.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime

from ..inspection import Throughput
from ..states import State
from .base import BaseQueue


class RunStatistics(BaseQueue):
    """Finished runs per minute, kept for a while, and totals per command."""

    # Whether finished runs are counted here.
    supports_statistics = True

    @abstractmethod
    def record_runs(
        self, counts: Mapping[tuple[str, State], int], now: datetime | None = None
    ) -> None:
        """Add finished runs, keyed by command and ``State.DONE`` or
        ``State.FAILED``, to the statistics of the minute of ``now`` and to
        the totals per command."""

    @abstractmethod
    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
        """Return the runs finished per minute from the minute of ``since``
        to ``now``, oldest first, leaving out minutes without runs. Minutes
        are kept for :data:`~djqueue.inspection.THROUGHPUT_RETENTION`."""

    @abstractmethod
    def command_totals(self) -> dict[str, tuple[int, int]]:
        """Return, per command, the runs that finished done and failed since
        this queue's statistics began."""
