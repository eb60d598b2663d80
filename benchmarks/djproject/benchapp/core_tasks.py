"""The task of the peers built on Django's own ``django.tasks`` (Django 6):
django-ox and Threadmill. ``BENCH_TASKS_ALIAS`` names the backend it is bound
to: Threadmill's keys carry the alias, so it carries the run's prefix."""

from django.conf import settings
from django.tasks import task

from benchmarks import done


@task(backend=settings.BENCH_TASKS_ALIAS)
def noop(x: int) -> int:
    return done.record(x)
