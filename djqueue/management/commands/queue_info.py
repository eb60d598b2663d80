"""``manage.py queue_info``: messages per queue and state, and the consumers
alive, for the terminal; ``--watch`` refreshes it."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from djqueue.backends.handler import get_queue, queue_names
from djqueue.backends.overview import QueueSummary, describe_age, summarize
from djqueue.exceptions import UnknownQueue
from djqueue.management.pausing import described
from djqueue.states import State

EXIT_UNREACHABLE = 69  # EX_UNAVAILABLE


class Command(BaseCommand):
    help = (
        "Show the messages of each queue per state, the oldest queued "
        "message's age, the runs of the last hour, the queues paused and the "
        "consumers alive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queues", nargs="*", help="Queues to show (all).")
        parser.add_argument(
            "--watch",
            nargs="?",
            type=float,
            const=2.0,
            metavar="SECONDS",
            help="Refresh every SECONDS (default 2) until interrupted.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON document."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["queues"] or queue_names()
        try:
            # Read as the admin reads: a server that hangs fails at once.
            queues = [get_queue(name).for_inspection() for name in names]
        except UnknownQueue as exc:
            raise CommandError(str(exc)) from exc
        interval = options["watch"]
        if interval is not None and interval <= 0:
            raise CommandError("--watch needs a positive number of seconds.")
        while True:
            try:
                summaries = [summarize(queue) for queue in queues]
            except Exception as exc:
                raise CommandError(
                    f"Cannot read the queues: {exc}", returncode=EXIT_UNREACHABLE
                ) from exc
            if options["json"]:
                self.stdout.write(json.dumps([as_json(s) for s in summaries]))
            else:
                if interval is not None:
                    self.stdout.write("\x1b[H\x1b[2J", ending="")
                self.stdout.write(render(summaries))
            if interval is None:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return


COLUMNS = (
    State.QUEUED,
    State.SCHEDULED,
    State.RUNNING,
    State.FAILED,
    State.DONE,
    State.CANCELLED,
    State.EXPIRED,
)


def render(summaries: list[QueueSummary]) -> str:
    """The plain-text report: a table of queues, then the consumers."""
    header = ["queue", *COLUMNS, "oldest", "done/h", "failed/h"]
    lines = _table(header, [_row(summary) for summary in summaries])
    lines += [
        f"Queue {summary.name} is paused {described(summary.pause)}."
        for summary in summaries
        if summary.pause is not None
    ]
    consumers = {c.id: c for s in summaries for c in s.consumers or ()}
    lines.append("")
    if summaries and all(summary.consumers is None for summary in summaries):
        lines.append("No queue's backend keeps track of its consumers.")
        return "\n".join(lines)
    if not consumers:
        lines.append("No consumer is alive.")
        return "\n".join(lines)
    now = timezone.now()
    consumer_rows = [
        [
            c.id,
            c.host,
            str(c.pid),
            ",".join(c.queues),
            f"{c.concurrency} {c.worker_type}",
            describe_age(now - c.started_at),
            describe_age(now - c.heartbeat_at) + " ago",
        ]
        for c in consumers.values()
    ]
    header = ["consumer", "host", "pid", "queues", "workers", "up", "heartbeat"]
    lines.extend(_table(header, consumer_rows))
    return "\n".join(lines)


#: What the table shows for a figure the queue's backend does not report.
NOT_KNOWN = "n/a"


def _row(summary: QueueSummary) -> list[str]:
    counts = summary.counts
    if counts is None:
        figures = [NOT_KNOWN] * (len(COLUMNS) + 1)
    else:
        figures = [str(counts[state]) for state in COLUMNS]
        figures.append(describe_age(summary.oldest_queued_age))
    done, failed = summary.recent_done, summary.recent_failed
    return [
        summary.name,
        *figures,
        NOT_KNOWN if done is None else str(done),
        NOT_KNOWN if failed is None else str(failed),
    ]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in [header, *rows]
    ]


def as_json(summary: QueueSummary) -> dict[str, Any]:
    return {
        "queue": summary.name,
        "counts": None
        if summary.counts is None
        else {str(state): count for state, count in summary.counts.items()},
        "oldest_queued_at": _iso(summary.oldest_queued_at),
        "done_last_hour": summary.recent_done,
        "failed_last_hour": summary.recent_failed,
        "paused": None
        if summary.pause is None
        else {
            "by": summary.pause.by,
            "since": _iso(summary.pause.since),
            "reason": summary.pause.reason,
        },
        "consumers": [
            {
                "id": c.id,
                "host": c.host,
                "pid": c.pid,
                "queues": list(c.queues),
                "concurrency": c.concurrency,
                "worker_type": c.worker_type,
                "started_at": _iso(c.started_at),
                "heartbeat_at": _iso(c.heartbeat_at),
                "processed": c.processed,
                "failed": c.failed,
            }
            for c in summary.consumers
        ]
        if summary.consumers is not None
        else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
