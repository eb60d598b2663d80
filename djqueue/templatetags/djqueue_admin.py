"""Template filters of djqueue's admin pages (``{% load djqueue_admin %}``):
attempts, times to the second, durations, ages that are right at small
values ("12 s ago", not "0 minutes ago"), shares as percentages and the
progress a command reported."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from ..admin.attempts import attempts_of
from ..admin.progress import ShownProgress, shown_progress
from ..admin.timing import describe_age, describe_duration, describe_moment
from ..envelope.message import Message

register = template.Library()


@register.filter
def attempts_summary(message: Message) -> str:
    """Runs so far, retries left and the delivery budget, on one line."""
    return attempts_of(message).summary


@register.filter
def progress_of(message: Message) -> ShownProgress | None:
    """The progress its command reported, as the pages show it, or None."""
    return shown_progress(message)


@register.filter
def duration(length: timedelta | float | None) -> str:
    """``{{ length|duration }}``: "3 min 5 s"."""
    return describe_duration(length)


@register.filter
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``{{ moment|ago:now }}``: "12 s ago"."""
    return describe_age(moment, now or timezone.now())


@register.filter
def elapsed(moment: datetime | None) -> str:
    """``{{ moment|elapsed }}``: the duration from ``moment`` to now."""
    if moment is None:
        return ""
    return describe_duration(timezone.now() - moment)


@register.filter
def between(start: datetime | None, end: datetime | None) -> str:
    """``{{ start|between:end }}``: the duration from one to the other, or
    ``""`` when either is unknown."""
    if start is None or end is None:
        return ""
    return describe_duration(end - start)


@register.filter
def clock(moment: datetime | None) -> str:
    """``{{ moment|clock }}``: the local date and time to the second,
    ``"2026-12-01 06:19:42"``."""
    return describe_moment(moment)


@register.filter
def percent(share: float | None) -> str:
    """``{{ share|percent }}``: 0.05 as "5.0 %", ``""`` for None."""
    if share is None:
        return ""
    return f"{share * 100:.1f} %"
