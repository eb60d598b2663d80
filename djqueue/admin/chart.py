"""Messages finished per minute over the last hour, as a server-side SVG
with a scale: stacked bars (done on top of failed), a vertical axis of
messages per minute from zero to a round number at or above the busiest
minute, and a time axis.

The layout is computed here, for the template, which the overview renders
and the live overview's JSON (:mod:`djqueue.admin.live`) carries rendered.
Colours come from CSS classes that use the admin's CSS variables, so the
chart follows the light and dark themes. The counts are of messages, as the
state counts are: a message counts once, done or failed after its last
attempt; an attempt that will be retried is not counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..backends.inspection import Throughput
from ..backends.overview import RECENT, recent_start

#: The minutes the chart shows: the overview's recent period.
MINUTES = RECENT // timedelta(minutes=1)
#: Horizontal room of one minute, and the width of its bar.
SLOT = 10
BAR_WIDTH = 8
#: The plot's size and the margins left for the axes' labels.
PLOT_WIDTH = MINUTES * SLOT
PLOT_HEIGHT = 120
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 22, 24
WIDTH = LEFT + PLOT_WIDTH + RIGHT
HEIGHT = TOP + PLOT_HEIGHT + BOTTOM
#: Every how many minutes the time axis is labelled.
TIME_LABEL_EVERY = 15


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    """One stacked minute: ``done`` on top of ``failed``, in SVG units."""

    x: int
    minute: datetime
    done: int
    failed: int
    done_y: float
    done_height: float
    failed_y: float
    failed_height: float


@dataclasses.dataclass(frozen=True, slots=True)
class Tick:
    """A labelled position on an axis, in SVG units, and how its label is
    anchored there (``"start"``, ``"middle"`` or ``"end"``)."""

    position: float
    label: str
    anchor: str = "middle"


@dataclasses.dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    done: int
    failed: int
    #: The busiest minute, and the top of the vertical scale.
    peak: int
    top: int
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_top: int = TOP
    plot_width: int = PLOT_WIDTH
    plot_height: int = PLOT_HEIGHT
    plot_bottom: int = TOP + PLOT_HEIGHT
    bar_width: int = BAR_WIDTH

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def failure_rate(self) -> float | None:
        """The share of the hour's finished messages that failed, or None
        when none finished."""
        return self.failed / self.finished if self.finished else None

    def to_json(self) -> dict[str, Any]:
        """The hour's figures: messages done and failed per minute (minutes
        without any left out), their sums and the failure rate."""
        return {
            "counts": "messages",
            "done": self.done,
            "failed": self.failed,
            "failure_rate": self.failure_rate,
            "peak": self.peak,
            "minutes": [
                {
                    "minute": bar.minute.isoformat(),
                    "done": bar.done,
                    "failed": bar.failed,
                }
                for bar in self.bars
            ],
        }


def round_top(peak: int) -> int:
    """The top of the scale: the smallest 1, 2 or 5 times a power of ten
    at or above ``peak`` (1 for an idle hour)."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= peak:
                return step * magnitude
        magnitude *= 10


def scale_ticks(top: int) -> tuple[Tick, ...]:
    """Zero, the middle (when it is a whole number) and the top."""
    values = [0, top // 2, top] if top % 2 == 0 else [0, top]
    return tuple(
        Tick(TOP + PLOT_HEIGHT - value * PLOT_HEIGHT / top, str(value))
        for value in values
    )


def time_ticks(start: datetime) -> tuple[Tick, ...]:
    """The local time of every ``TIME_LABEL_EVERY``-th minute, and of the
    last (the current) minute."""
    indexes = [*range(0, MINUTES, TIME_LABEL_EVERY), MINUTES - 1]
    return tuple(
        Tick(
            LEFT + index * SLOT + SLOT / 2,
            timezone.localtime(start + timedelta(minutes=index)).strftime("%H:%M"),
            "end" if index == MINUTES - 1 else "middle",
        )
        for index in indexes
    )


def build_chart(buckets: Iterable[Throughput], now: datetime) -> Chart:
    """Lay out per-minute ``(minute, done, failed)`` buckets as bars.

    Buckets outside the hour ending at ``now`` are ignored; minutes without
    a bucket have no bar. Bar heights follow the scale, whose top is a
    round number at or above the busiest minute.
    """
    start = recent_start(now)
    slots: dict[int, tuple[datetime, int, int]] = {}
    for bucket in buckets:
        index = int((bucket.minute - start).total_seconds() // 60)
        if 0 <= index < MINUTES:
            _, done, failed = slots.get(index, (bucket.minute, 0, 0))
            slots[index] = (bucket.minute, done + bucket.done, failed + bucket.failed)
    peak = max((done + failed for _, done, failed in slots.values()), default=0)
    top = round_top(peak)
    bottom = TOP + PLOT_HEIGHT
    bars = []
    for index, (minute, done, failed) in sorted(slots.items()):
        failed_height = failed * PLOT_HEIGHT / top
        done_height = done * PLOT_HEIGHT / top
        bars.append(
            Bar(
                x=LEFT + index * SLOT + (SLOT - BAR_WIDTH) // 2,
                minute=minute,
                done=done,
                failed=failed,
                done_y=bottom - failed_height - done_height,
                done_height=done_height,
                failed_y=bottom - failed_height,
                failed_height=failed_height,
            )
        )
    return Chart(
        bars=tuple(bars),
        done=sum(bar.done for bar in bars),
        failed=sum(bar.failed for bar in bars),
        peak=peak,
        top=top,
        y_ticks=scale_ticks(top),
        x_ticks=time_ticks(start),
    )
