"""Queue metrics in the Prometheus text exposition format (version 0.0.4).

The view answers a scraper that sends ``Authorization: Bearer <token>``
matching ``QUEUE_METRICS_TOKEN``, or a logged-in active staff user with the
``djqueue.view_message`` permission; anyone else gets a 403. It reads each
queue through the inspection API: ``counts()``, ``consumers()``,
``oldest_queued_at()``, ``command_totals()``, ``command_seconds()`` and
``pause_state()``, so
a fixed number of calls
per queue, on the queue's bounded twin
(:meth:`~djqueue.backends.base.BaseQueue.for_inspection`). A queue that
cannot be read is reported by ``djqueue_up 0``; the samples of a part its
backend does not support (inspection, presence, statistics, pause) are left
out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET

from .backends.handler import get_queue, queue_names
from .conf import settings
from .permissions import allowed
from .states import State

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def label_value(value: object) -> str:
    """Escape a label value: backslash, double quote and line feed."""
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample(name: str, labels: Mapping[str, object], value: float) -> str:
    inner = ",".join(f'{key}="{label_value(v)}"' for key, v in labels.items())
    number = int(value) if float(value).is_integer() else value
    return f"{name}{{{inner}}} {number}"


FAMILIES = {
    "djqueue_up": ("gauge", "Whether the queue could be read (1) or not (0)."),
    "djqueue_messages": ("gauge", "Messages stored, by queue and state."),
    "djqueue_oldest_queued_age_seconds": (
        "gauge",
        "Seconds the oldest queued message has waited.",
    ),
    "djqueue_consumers": ("gauge", "Consumers alive, by queue."),
    "djqueue_queue_paused": (
        "gauge",
        "Whether the queue is paused (1: consumers claim nothing from it) or not (0).",
    ),
    "djqueue_runs_total": (
        "counter",
        "Runs finished since the queue's statistics began, by command and outcome.",
    ),
    "djqueue_run_duration_seconds": (
        "summary",
        "Seconds the runs counted in djqueue_runs_total took, by command.",
    ),
}


def queue_samples(name: str, now: datetime) -> dict[str, list[str]]:
    """The samples of one queue, by metric family."""
    found: dict[str, list[str]] = {family: [] for family in FAMILIES}
    try:
        queue = get_queue(name).for_inspection()
        inspects = queue.supports_inspection
        counts = queue.counts() if inspects else None
        oldest = queue.oldest_queued_at() if inspects else None
        consumers = queue.consumers(now=now) if queue.supports_presence else None
        totals = queue.command_totals() if queue.supports_statistics else {}
        seconds = queue.command_seconds() if queue.supports_statistics else {}
        pausable = queue.supports_pause
        paused = pausable and queue.pause_state() is not None
    except Exception:
        found["djqueue_up"].append(sample("djqueue_up", {"queue": name}, 0))
        return found
    found["djqueue_up"].append(sample("djqueue_up", {"queue": name}, 1))
    if counts is not None:
        for state in State:
            labels = {"queue": name, "state": state.value}
            found["djqueue_messages"].append(
                sample("djqueue_messages", labels, counts.get(state, 0))
            )
        age = max((now - oldest).total_seconds(), 0.0) if oldest else 0
        found["djqueue_oldest_queued_age_seconds"].append(
            sample("djqueue_oldest_queued_age_seconds", {"queue": name}, age)
        )
    if consumers is not None:
        found["djqueue_consumers"].append(
            sample("djqueue_consumers", {"queue": name}, len(consumers))
        )
    if pausable:
        found["djqueue_queue_paused"].append(
            sample("djqueue_queue_paused", {"queue": name}, int(paused))
        )
    for command, (done, failed) in sorted(totals.items()):
        for outcome, value in (("done", done), ("failed", failed)):
            labels = {"queue": name, "command": command, "outcome": outcome}
            found["djqueue_runs_total"].append(
                sample("djqueue_runs_total", labels, value)
            )
        labels = {"queue": name, "command": command}
        found["djqueue_run_duration_seconds"] += [
            sample("djqueue_run_duration_seconds_sum", labels, seconds.get(command, 0)),
            sample("djqueue_run_duration_seconds_count", labels, done + failed),
        ]
    return found


def render(names: Iterable[str], now: datetime) -> str:
    """The exposition text for the queues ``names``."""
    per_queue = [queue_samples(name, now) for name in names]
    lines: list[str] = []
    for family, (kind, help_text) in FAMILIES.items():
        lines += [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}"]
        for samples in per_queue:
            lines += samples[family]
    return "\n".join(lines) + "\n"


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authorized(request: HttpRequest) -> bool:
    """Whether the request carries the metrics token or comes from staff
    allowed to view queues."""
    expected = settings.QUEUE_METRICS_TOKEN
    offered = bearer_token(request)
    if expected and offered and constant_time_compare(offered, expected):
        return True
    # Without Django's authentication middleware only the token lets in.
    user = getattr(request, "user", None)
    return user is not None and allowed(user, "view")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve the metrics of every configured queue."""
    if not authorized(request):
        response = HttpResponse("Forbidden\n", status=403, content_type=CONTENT_TYPE)
        if settings.QUEUE_METRICS_TOKEN:
            response["WWW-Authenticate"] = 'Bearer realm="djqueue"'
        return response
    text = render(queue_names(), timezone.now())
    return HttpResponse(text, content_type=CONTENT_TYPE)
