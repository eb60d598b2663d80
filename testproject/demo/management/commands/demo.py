"""``manage.py demo``: enqueue demo commands, consume them, show the results.

It enqueues a few calls (one scheduled two seconds ahead), registers a
periodic command that runs every two seconds, runs a consumer in this
process until the scheduled call and two ticks have run, and prints what
became of each message.
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection

from djqueue import CommandFailed, periodic_command
from djqueue.consumer import Consumer
from djqueue.management.commands.run_queue import configure_logging
from testproject.demo import commands
from testproject.demo.models import Report

ticks = []

ADMIN_HELP = """
The messages are still there to look at in the admin (the failed one with
its traceback). From the repository's root, with the demo's database:

  export DJQUEUE_DB_NAME={database}
  .venv/bin/python testproject/manage.py createsuperuser
  .venv/bin/python testproject/manage.py runserver

then open http://127.0.0.1:8000/admin/djqueue/messagerecord/ and log in.
Metrics for Prometheus: http://127.0.0.1:8000/djqueue/metrics
"""


def clock():
    """A periodic command of the demo: note the time of each tick."""
    ticks.append(time.strftime("%H:%M:%S"))


class Command(BaseCommand):
    help = "Enqueue demo commands, run a consumer briefly, print the results."

    def handle(self, *args, **options):
        configure_logging(options["verbosity"])
        periodic_command(every=timedelta(seconds=2), name="demo.clock")(clock)
        report = Report.objects.create(title="Quarterly report", words=1200)
        calls = {
            "add(2, 3)": commands.add(2, 3),
            "add(40, 2) at priority 9": commands.add.using(priority=9)(40, 2),
            f"churn_data(<Report {report.pk}>, 1.5)": commands.churn_data(
                report, Decimal("1.5")
            ),
            "flaky('demo'), 2 retries": commands.flaky("demo"),
            "fail('on purpose')": commands.fail("on purpose"),
            "add(20, 22) in 2 seconds": commands.add.enqueue_in(2, 20, 22),
        }
        self.stdout.write(
            f"Enqueued {len(calls)} messages; consuming for a few seconds"
        )
        self.consume_until(
            lambda: all(r.ready() for r in calls.values()) and len(ticks) >= 2
        )
        self.stdout.write("\nResults:")
        for call, result in calls.items():
            self.stdout.write(f"  {call:<40} {self.describe(result)}")
        self.stdout.write(
            f"  {'periodic demo.clock, every 2 s':<40} ran at {', '.join(ticks)}"
        )
        database = connection.settings_dict["NAME"]
        self.stdout.write(ADMIN_HELP.format(database=database))

    def consume_until(self, done, limit=20.0):
        consumer = Consumer(["default"], 4, lease_seconds=30, grace_period=5)
        thread = threading.Thread(target=consumer.run)
        thread.start()
        deadline = time.monotonic() + limit
        while not done() and time.monotonic() < deadline:
            time.sleep(0.1)
        consumer.stop()
        thread.join(timeout=10)

    @staticmethod
    def describe(result):
        message = result.message
        try:
            outcome = repr(result.get(timeout=0))
        except CommandFailed as exc:
            outcome = f"failed: {exc.error}"
        except Exception as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        return f"{message.state:<9} attempts={message.attempts}  {outcome}"
