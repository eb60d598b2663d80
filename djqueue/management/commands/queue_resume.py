"""``manage.py queue_resume``: resume paused queues; their consumers claim
from them again within about a second."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from djqueue.management.pausing import (
    add_queue_arguments,
    chosen_queues,
    described,
    unreachable,
)


class Command(BaseCommand):
    help = "Resume paused queues: consumers claim from them again."

    def add_arguments(self, parser: CommandParser) -> None:
        add_queue_arguments(parser, "resume")

    def handle(self, *args: Any, **options: Any) -> None:
        for queue in chosen_queues(options, "resume"):
            try:
                ended = queue.resume()
            except Exception as exc:
                raise unreachable(queue, exc) from exc
            if ended is None:
                self.stdout.write(f"Queue {queue.name} was not paused.")
            else:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Resumed queue {queue.name}, paused {described(ended)}."
                    )
                )
