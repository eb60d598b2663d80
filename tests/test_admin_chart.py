"""The overview's chart layout and the admin's durations and ages, which
are right at small values ("12 s ago", not "0 minutes ago")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from djqueue.admin.chart import (
    LEFT,
    PLOT_HEIGHT,
    TOP,
    build_chart,
    round_top,
)
from djqueue.admin.timing import describe_age, describe_duration
from djqueue.backends.inspection import Throughput

NOW = datetime(2026, 12, 1, 6, 19, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.25, "250 ms"),
        (12, "12 s"),
        (60, "1 min"),
        (185, "3 min 5 s"),
        (7440, "2 h 4 min"),
        (7205, "2 h"),
        (90000, "1 d 1 h"),
        (-3, "0 s"),
    ],
)
def test_durations_in_the_two_largest_units(seconds, text):
    assert describe_duration(seconds) == text
    assert describe_duration(timedelta(seconds=seconds)) == text


def test_ages_are_right_at_small_values():
    assert describe_age(NOW - timedelta(seconds=12), NOW) == "12 s ago"
    assert describe_age(None, NOW) == ""


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (50, 50), (51, 100)]
)
def test_the_scale_tops_at_a_round_number(peak, top):
    assert round_top(peak) == top


def test_the_chart_scales_bars_to_its_round_top_and_labels_its_axes():
    minute = NOW.replace(second=0)
    chart = build_chart(
        [
            Throughput(minute, 30, 10),
            Throughput(minute - timedelta(minutes=30), 5, 0),
            Throughput(minute - timedelta(hours=2), 99, 99),  # out of the hour
        ],
        NOW,
    )

    assert (chart.done, chart.failed, chart.peak, chart.top) == (35, 10, 40, 50)
    assert chart.failure_rate == pytest.approx(10 / 45)
    older, busiest = chart.bars
    bottom = TOP + PLOT_HEIGHT
    assert busiest.failed_y == pytest.approx(bottom - 10 * PLOT_HEIGHT / 50)
    assert busiest.done_y == pytest.approx(bottom - 40 * PLOT_HEIGHT / 50)
    assert older.x < busiest.x
    assert older.x > LEFT
    assert [tick.label for tick in chart.y_ticks] == ["0", "25", "50"]
    assert len(chart.x_ticks) == 5
    assert chart.x_ticks[-1].anchor == "end"
    assert chart.to_json()["counts"] == "messages"


def test_an_idle_hour_has_no_bars_and_no_failure_rate():
    chart = build_chart([], NOW)
    assert chart.bars == ()
    assert chart.failure_rate is None
    assert [tick.label for tick in chart.y_ticks] == ["0", "1"]
