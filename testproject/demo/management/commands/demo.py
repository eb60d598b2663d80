"""``manage.py demo``: enqueue a few commands, consume them, show the results."""

from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand

from djqueue import CommandFailed
from testproject.demo import commands
from testproject.demo.models import Report


class Command(BaseCommand):
    help = "Enqueue demo commands, run them with run_queue --burst, print results."

    def handle(self, *args, **options):
        report = Report.objects.create(title="Quarterly report", words=1200)
        calls = {
            "add(2, 3)": commands.add(2, 3),
            "add(40, 2) at priority 9": commands.add.using(priority=9)(40, 2),
            f"churn_data(<Report {report.pk}>, 1.5)": commands.churn_data(
                report, Decimal("1.5")
            ),
            "flaky('demo'), 2 retries": commands.flaky("demo"),
            "fail('on purpose')": commands.fail("on purpose"),
        }
        self.stdout.write(
            f"Enqueued {len(calls)} messages; running run_queue --burst\n"
        )
        call_command("run_queue", "--burst", verbosity=options["verbosity"])
        self.stdout.write("\nResults:")
        for call, result in calls.items():
            message = result.message
            try:
                outcome = repr(result.get(timeout=0))
            except CommandFailed as exc:
                outcome = f"failed: {exc.error}"
            state, attempts = message.state, message.attempts
            self.stdout.write(f"  {call:<40} {state:<7} attempts={attempts}  {outcome}")
