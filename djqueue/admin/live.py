"""The live overview: what the overview page shows, as JSON, for its script
(``static/djqueue/live.js``) to refresh the page with, without a reload.

The document is read as the overview is, with the same permission (view)
and the same backend calls per queue (:func:`~djqueue.admin.reading.cards`).
Per queue it holds the counts per state, the queue latency in seconds (the
wait of the oldest ready message), the number of consumers, the pause
(who, since when, why; ``null`` when the queue runs), the last
hour's messages done and failed per minute with the failure rate, and the
overview's figures and chart rendered as HTML, so that the script swaps
them in and the page is laid out in one place. A part the queue's backend
does not support is ``null``; a queue that cannot be read has an
``error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..permissions import require
from .reading import QueueCard, Reader, cards
from .timing import describe_moment

if TYPE_CHECKING:
    from datetime import datetime

    from django.http import HttpRequest

    from .model_admin import QueueAdmin

#: How often the overview's script asks again, in seconds.
REFRESH_SECONDS = 5


def pause_data(card: QueueCard) -> dict[str, str] | None:
    """Who paused the queue, since when and why; None when it is not paused."""
    pause = card.summary.pause if card.summary else None
    if pause is None:
        return None
    return {"by": pause.by, "since": pause.since.isoformat(), "reason": pause.reason}


def card_data(card: QueueCard, now: datetime) -> dict[str, Any]:
    """One queue's part of the document."""
    context = {"card": card, "now": now}
    return {
        "name": card.name,
        "error": card.error,
        "counts": card.count_of if card.inspected else None,
        "latency_seconds": card.latency,
        "consumers": len(card.consumers) if card.tracks_consumers else None,
        "paused": pause_data(card),
        "throughput": card.chart.to_json() if card.chart else None,
        "figures_html": render_to_string("djqueue/admin/_figures.html", context),
        "chart_html": render_to_string(
            "djqueue/admin/_chart.html", {"chart": card.chart}
        )
        if card.chart
        else "",
    }


@never_cache
@require_GET
def overview_data(request: HttpRequest, model_admin: QueueAdmin) -> JsonResponse:
    """Serve the live overview of every configured queue."""
    require(request.user, "view")
    now = timezone.now()
    return JsonResponse(
        {
            "taken_at": now.isoformat(),
            "taken_at_text": describe_moment(now),
            "refresh_seconds": REFRESH_SECONDS,
            "queues": [card_data(card, now) for card in cards(Reader(), now)],
        }
    )
