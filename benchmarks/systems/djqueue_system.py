"""djqueue itself: DatabaseQueue on SQLite and PostgreSQL, RedisQueue."""

from __future__ import annotations

from .django_based import DjangoSystem


class Djqueue(DjangoSystem):
    kind = "djqueue"
    default_concurrency = 4
    has_concurrency = True
    bulk_note = ""

    def setup(self):
        super().setup()
        from djqueue.backends.handler import get_queue

        from ..djproject.benchapp.commands import noop

        self.noop = noop
        self.queue = get_queue("default")

    def reset(self):
        super().reset()
        self.queue.flush()

    def enqueue(self, n, start=0):
        noop = self.noop
        for i in range(start, start + n):
            noop(i)

    def bulk_enqueue(self, n, start=0):
        self.noop.map(range(start, start + n))

    def consumer_argv(self, concurrency):
        argv = self.manage("run_queue")
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
        return argv

    def pending(self):
        return len(self.queue)


class DjqueueSqliteStock(Djqueue):
    """DATABASES as ``startproject`` writes it: ENGINE and NAME, nothing else
    (see ``djproject/settings.py``)."""

    key = "djqueue-sqlite-stock"
    label = "djqueue DatabaseQueue (SQLite, startproject settings)"
    store = "sqlite"


class DjqueueSqliteWal(Djqueue):
    """SQLite tuned: WAL journal, synchronous=NORMAL, IMMEDIATE transactions,
    a 30 s busy timeout, persistent connections."""

    key = "djqueue-sqlite-wal"
    label = "djqueue DatabaseQueue (SQLite, WAL)"
    store = "sqlite"


class DjqueuePostgres(Djqueue):
    key = "djqueue-pg"
    label = "djqueue DatabaseQueue (PostgreSQL)"
    store = "postgres"
    pg_db = "djqueue"

    def reset(self):
        """Empty the queue, then vacuum its table, so that each cell starts
        on a table without the dead rows of the last one.

        ``flush()`` is a ``DELETE``: after a depth cell of 1,000,000
        messages, the next cell's claims walked a million dead index
        entries until autovacuum came by, and drained 210 messages a second
        instead of 2,000. (The raw loop's reset is a ``TRUNCATE``.)
        """
        super().reset()
        from django.db import connection

        from djqueue.models import MessageRecord

        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {MessageRecord._meta.db_table}")


class DjqueueRedis(Djqueue):
    key = "djqueue-redis"
    label = "djqueue RedisQueue"
    store = "redis"


class TwoProcesses:
    """``run_queue --processes 2``: two consumer processes, each with the
    concurrency asked for, under one supervisor."""

    drain1_note = "one worker: the one-process system"

    def consumer_argv(self, concurrency):
        return [*super().consumer_argv(concurrency), "--processes", "2"]


class DjqueuePostgresTwoProcesses(TwoProcesses, DjqueuePostgres):
    key = "djqueue-pg-2p"
    label = "djqueue DatabaseQueue (PostgreSQL), 2 processes"
    pg_db = "djqueue2p"


class DjqueueRedisTwoProcesses(TwoProcesses, DjqueueRedis):
    key = "djqueue-redis-2p"
    label = "djqueue RedisQueue, 2 processes"
