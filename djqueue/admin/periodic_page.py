"""The periodic commands page: each registered periodic command with its
schedule, the tick last written on its queue and the next run. Reading it
never enqueues anything (commands are never called by templates).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext as _

from ..backends.handler import queue_names
from ..commands.periodic import periodic_commands
from ..permissions import require
from .reading import QueueUnavailable, Reader
from .views import render

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from .model_admin import QueueAdmin


def periodic(request: HttpRequest, model_admin: QueueAdmin) -> HttpResponse:
    """Periodic commands with their schedule, last tick and next run."""
    require(request.user, "view")
    now, reader = timezone.now(), Reader()
    ticks: dict[str, dict[str, datetime] | None] = {}
    rows = []
    for entry in periodic_commands():
        name = entry.command.options.queue
        if name not in ticks:
            ticks[name] = last_ticks(reader, name)
        last = (ticks[name] or {}).get(entry.command.name)
        try:
            upcoming, error = entry.schedule.next(now), ""
        except Exception as exc:  # a cron schedule without croniter
            upcoming, error = None, str(exc)
        rows.append(
            {
                "entry": entry,
                "queue": name,
                "last": last,
                "next": upcoming,
                "error": error,
                "unavailable": reader.unavailable.get(name, ""),
                "unsupported": ticks[name] is None,
            }
        )
    return render(
        request, model_admin, "periodic.html", _("Periodic commands"), rows=rows
    )


def last_ticks(reader: Reader, name: str) -> dict[str, datetime] | None:
    """The last ticks written on queue ``name``: {} if it is not configured
    (``manage.py check`` reports it) or cannot be read (the row says so),
    ``None`` if its backend does not support periodic ticks."""
    if name not in queue_names():
        return {}
    if not reader.supports(name, "supports_periodic"):
        return None
    try:
        return reader.read(name, lambda queue: queue.last_ticks())
    except QueueUnavailable:
        return {}
