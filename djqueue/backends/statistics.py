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

from ..states import State
from .base import BaseQueue
from .inspection import Throughput


class RunStatistics(BaseQueue):
    """Finished runs per minute, kept for a while, and totals per command."""

    # Whether finished runs are counted here.
    supports_statistics = True

    @abstractmethod
    def record_runs(
        self,
        counts: Mapping[tuple[str, State], int],
        now: datetime | None = None,
        seconds: Mapping[tuple[str, State], float] | None = None,
    ) -> None:
        """Add finished runs, keyed by command and ``State.DONE`` or
        ``State.FAILED``, to the statistics of the minute of ``now`` and to
        the totals per command; add ``seconds``, the time those runs took
        in all under the same keys, to the totals of :meth:`command_seconds`."""

    @abstractmethod
    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
        """Return the runs finished per minute from the minute of ``since``
        to ``now``, oldest first, leaving out minutes without runs. Minutes
        are kept for :data:`~djqueue.backends.inspection.THROUGHPUT_RETENTION`."""

    @abstractmethod
    def command_totals(self) -> dict[str, tuple[int, int]]:
        """Return, per command, the runs that finished done and failed since
        this queue's statistics began."""

    @abstractmethod
    def command_seconds(self) -> dict[str, float]:
        """Return, per command, the seconds its runs counted in
        :meth:`command_totals` took in all; runs recorded without their
        seconds add nothing, and a command with none may be left out."""
