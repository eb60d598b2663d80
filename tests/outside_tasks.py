"""A task in a module outside the installed apps: a django.tasks message
that names it must fail without this module ever being imported."""

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task

from testproject.demo.models import Run


@task
def record(label=""):
    Run.objects.create(message_id="outside", attempt=1, pid=0, label=label)
