"""Peers that are backends of Django's own ``django.tasks`` (Django 6.0 and
later): django-ox on PostgreSQL, Threadmill on Redis.

Both enqueue the same no-op task (``benchapp/core_tasks.py``) with
``Task.enqueue()`` and run it with their own worker command.
"""

from __future__ import annotations

import os

from .. import done
from .django_based import DjangoSystem


class CoreTasksSystem(DjangoSystem):
    """A ``django.tasks`` backend: the task is imported once Django is set up
    (the decorator looks its backend up)."""

    def setup(self):
        super().setup()
        from ..djproject.benchapp.core_tasks import noop

        self.noop = noop

    def enqueue(self, n, start=0):
        enqueue = self.noop.enqueue
        for i in range(start, start + n):
            enqueue(i)


class DjangoOxPostgres(CoreTasksSystem):
    key = "django-ox-pg"
    label = "django-ox (django.tasks, PostgreSQL)"
    store = "postgres"
    pg_db = "djox"
    has_concurrency = True
    bulk_note = ""

    def setup(self):
        super().setup()
        from django_ox.bulk import enqueue_many
        from django_ox.models import OxTask

        self.enqueue_many = enqueue_many
        self.tasks = OxTask.objects
        self.ready = OxTask.Status.READY

    def reset(self):
        super().reset()
        self.tasks.all().delete()

    def bulk_enqueue(self, n, start=0):
        self.enqueue_many(self.noop, [((i,), {}) for i in range(start, start + n)])

    def consumer_argv(self, concurrency):
        argv = self.manage("ox_worker")
        return argv + (["--concurrency", str(concurrency)] if concurrency else [])

    def pending(self):
        return self.tasks.filter(status=self.ready).count()


class ThreadmillRedis(CoreTasksSystem):
    key = "threadmill-redis"
    label = "Threadmill (django.tasks, Redis)"
    store = "redis"
    has_concurrency = True
    #: ``threadmill worker`` starts one process per CPU but one, a thread each.
    default_concurrency = max((os.cpu_count() or 1) - 1, 1)

    @property
    def alias(self) -> str:
        """The backend's alias in ``TASKS`` (``djproject/settings.py``): the
        run's key prefix, which Threadmill puts in each of its keys."""
        return done.run_prefix()

    def consumer_argv(self, concurrency):
        argv = self.manage("threadmill", "worker", "--backend", self.alias)
        return argv + (["--workers", str(concurrency)] if concurrency else [])

    def pending(self):
        stats = self.noop.get_backend().telemetry().queues[self.noop.queue_name]
        return stats.counts.ready
