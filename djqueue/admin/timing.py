"""Times, durations and ages as the admin pages write them: to the second,
durations in the two largest units that matter ("12 s", "3 min 5 s",
"2 h 4 min", "3 d 1 h")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

#: Each unit's length in seconds, largest first, and its format.
UNITS = (
    (86400, gettext_noop("%(n)d d")),
    (3600, gettext_noop("%(n)d h")),
    (60, gettext_noop("%(n)d min")),
    (1, gettext_noop("%(n)d s")),
)


def describe_duration(length: timedelta | float | None) -> str:
    """``length`` (a timedelta or seconds) in its largest unit and the next
    one down when that is not zero; under a second it is ``"0 s"``, or in
    milliseconds when it is not zero. ``""`` for ``None``."""
    if length is None:
        return ""
    seconds = length.total_seconds() if isinstance(length, timedelta) else length
    seconds = max(seconds, 0.0)
    if 0 < seconds < 1:
        return _("%(n)d ms") % {"n": round(seconds * 1000)}
    whole = int(seconds)
    for index, (size, unit) in enumerate(UNITS):
        if whole >= size or size == 1:
            first = _(unit) % {"n": whole // size}
            if size == 1:
                return first
            next_size, next_unit = UNITS[index + 1]
            extra = whole % size // next_size
            return f"{first} {_(next_unit) % {'n': extra}}" if extra else first
    return ""  # not reached: the last unit is the second


def describe_age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was: ``"12 s ago"``; ``""`` for ``None``."""
    if moment is None:
        return ""
    return _("%(duration)s ago") % {"duration": describe_duration(now - moment)}


def describe_moment(moment: datetime | None) -> str:
    """The local date and time of ``moment`` to the second,
    ``"2026-12-01 06:19:42"``; ``""`` for ``None``."""
    if moment is None:
        return ""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")
