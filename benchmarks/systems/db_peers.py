"""Peers on PostgreSQL (and django-q2 on Redis): django-q2, django-tasks,
procrastinate."""

from __future__ import annotations

from .base import PG_URL, System, create_pg_database, script
from .django_based import DjangoSystem

NOOP_PATH = "benchmarks.djproject.benchapp.tasks.noop"


class DjangoQRedis(DjangoSystem):
    key = "djq2-redis"
    label = "django-q2 (Redis broker)"
    store = "redis"
    has_concurrency = True
    default_concurrency = 2  # the number of CPUs

    def setup(self):
        super().setup()
        from django_q.brokers import get_broker
        from django_q.tasks import async_task

        self.broker = get_broker()
        self.async_task = async_task

    def reset(self):
        super().reset()
        from django_q.models import OrmQ, Task

        OrmQ.objects.all().delete()
        Task.objects.all().delete()

    def enqueue(self, n, start=0):
        for i in range(start, start + n):
            self.async_task(NOOP_PATH, i)

    def consumer_env(self, concurrency):
        return {"BENCH_CONCURRENCY": str(concurrency)} if concurrency else {}

    def consumer_argv(self, concurrency):
        return self.manage("qcluster")

    def pending(self):
        return self.broker.queue_size()


class DjangoQOrm(DjangoQRedis):
    key = "djq2-orm"
    label = "django-q2 (ORM broker, PostgreSQL)"
    store = "postgres"
    pg_db = "djq2"


class DjangoTasksPostgres(DjangoSystem):
    key = "djtasks-pg"
    label = "django-tasks database backend (PostgreSQL)"
    store = "postgres"
    pg_db = "djtasks"

    def setup(self):
        super().setup()
        from django_tasks_db.models import DBTaskResult

        from ..djproject.benchapp.tasks import noop_task

        self.noop = noop_task
        self.results = DBTaskResult.objects

    def reset(self):
        super().reset()
        self.results.all().delete()

    def enqueue(self, n, start=0):
        enqueue = self.noop.enqueue
        for i in range(start, start + n):
            enqueue(i)

    def consumer_argv(self, concurrency):
        return self.manage("db_worker")

    def pending(self):
        return self.results.ready().count()


class ProcrastinatePostgres(System):
    key = "procrastinate-pg"
    label = "procrastinate (PostgreSQL)"
    store = "postgres"
    pg_db = "procrastinate"
    has_concurrency = True
    bulk_note = ""

    def env(self):
        return {**super().env(), "BENCH_PG_URL": PG_URL.format(name=self.pg_name)}

    def setup(self):
        create_pg_database(self.pg_name)
        from ..tasks.procrastinate_app import app, noop

        self.app = app.open()
        self.noop = noop
        found = self._sql("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        if not found[0][0]:
            app.schema_manager.apply_schema()

    def _sql(self, query: str):
        import psycopg

        url = PG_URL.format(name=self.pg_name)
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else []

    def reset(self):
        super().reset()
        self._sql("TRUNCATE procrastinate_jobs CASCADE")

    def enqueue(self, n, start=0):
        defer = self.noop.defer
        for i in range(start, start + n):
            defer(x=i)

    def bulk_enqueue(self, n, start=0):
        self.noop.batch_defer(*({"x": i} for i in range(start, start + n)))

    def consumer_argv(self, concurrency):
        app = "benchmarks.tasks.procrastinate_app.app"
        argv = script("procrastinate", "--app", app, "worker", "--queues", "bench")
        return argv + (["--concurrency", str(concurrency)] if concurrency else [])

    def pending(self):
        return self._sql(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"
        )[0][0]

    def teardown(self):
        self.app.close()
        super().teardown()
