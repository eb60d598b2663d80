"""The django-tasks task and the django-q2 function."""

from django_tasks import task

from benchmarks import done


@task()
def noop_task(x: int) -> int:
    return done.record(x)


def noop(x: int) -> int:
    return done.record(x)
