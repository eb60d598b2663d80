"""``manage.py queue_pause``: pause queues; their consumers stop claiming
within about a second and let what runs finish."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from djqueue.management.pausing import (
    add_queue_arguments,
    chosen_queues,
    described,
    unreachable,
    who_runs_this,
)


class Command(BaseCommand):
    help = (
        "Pause queues: consumers claim nothing more from them until they are "
        "resumed (queue_resume); the messages that run finish, and enqueueing "
        "goes on (the messages wait)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_queue_arguments(parser, "pause")
        parser.add_argument(
            "--reason", default="", help="Why, for the admin, the logs and queue_info."
        )
        parser.add_argument(
            "--by",
            default=None,
            help="Who pauses the queues (default: user@host of this command).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        by = who_runs_this() if options["by"] is None else options["by"]
        for queue in chosen_queues(options, "pause"):
            now = timezone.now()
            try:
                pause = queue.pause(by, options["reason"], now=now)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            except Exception as exc:
                raise unreachable(queue, exc) from exc
            if pause.since == now:
                self.stdout.write(
                    self.style.SUCCESS(f"Paused queue {queue.name} {described(pause)}.")
                )
            else:
                self.stdout.write(
                    f"Queue {queue.name} was already paused {described(pause)}; "
                    "left as it was."
                )
