"""Throughput over the last hour as the bars of a small server-side SVG.

The template draws the bars; colours come from CSS classes that use the
admin's CSS variables, so the chart follows the light and dark themes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..inspection import Throughput

MINUTES = 60
BAR_WIDTH = 4
HEIGHT = 48


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
class Chart:
    bars: tuple[Bar, ...]
    done: int
    failed: int
    peak: int
    width: int = MINUTES * BAR_WIDTH
    height: int = HEIGHT


def hour_start(now: datetime) -> datetime:
    """The first minute the chart shows, ending with the minute of ``now``."""
    return now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1)


def build_chart(buckets: Iterable[Throughput], now: datetime) -> Chart:
    """Lay out per-minute ``(minute, done, failed)`` buckets as bars.

    Buckets outside the hour ending at ``now`` are ignored; minutes without
    a bucket have no bar. Bar heights are scaled to the busiest minute.
    """
    start = hour_start(now)
    slots: dict[int, tuple[datetime, int, int]] = {}
    for bucket in buckets:
        index = int((bucket.minute - start).total_seconds() // 60)
        if 0 <= index < MINUTES:
            _, done, failed = slots.get(index, (bucket.minute, 0, 0))
            slots[index] = (bucket.minute, done + bucket.done, failed + bucket.failed)
    peak = max((done + failed for _, done, failed in slots.values()), default=0)
    bars = []
    for index, (minute, done, failed) in sorted(slots.items()):
        scale = HEIGHT / peak if peak else 0
        failed_height = failed * scale
        done_height = done * scale
        bars.append(
            Bar(
                x=index * BAR_WIDTH,
                minute=minute,
                done=done,
                failed=failed,
                done_y=HEIGHT - failed_height - done_height,
                done_height=done_height,
                failed_y=HEIGHT - failed_height,
                failed_height=failed_height,
            )
        )
    return Chart(
        bars=tuple(bars),
        done=sum(bar.done for bar in bars),
        failed=sum(bar.failed for bar in bars),
        peak=peak,
    )
