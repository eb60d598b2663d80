"""``manage.py periodic_commands``: list periodic commands and their next run."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from djqueue.commands.periodic import periodic_commands


class Command(BaseCommand):
    help = "List the periodic commands with their schedule, queue and next run."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        entries = list(periodic_commands())
        if not entries:
            self.stdout.write("No periodic commands are registered.")
            return
        for entry in entries:
            command, schedule = entry.command, entry.schedule
            upcoming = schedule.next(now).astimezone(schedule.zone)
            catch_up = ", catches up" if schedule.catch_up else ""
            self.stdout.write(
                f"{command.name}\n  {schedule}{catch_up}; queue "
                f"{command.options.queue!r}; next run {upcoming.isoformat()}"
            )
