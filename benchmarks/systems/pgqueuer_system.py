"""PgQueuer on PostgreSQL (asyncpg consumer, psycopg producer)."""

from __future__ import annotations

import asyncio

from .base import PG_URL, System, create_pg_database, python


class PgQueuerPostgres(System):
    key = "pgqueuer-pg"
    label = "PgQueuer (PostgreSQL, asyncpg)"
    store = "postgres"
    pg_db = "pgqueuer"
    bulk_note = ""

    @property
    def url(self) -> str:
        return PG_URL.format(name=self.pg_name)

    def env(self):
        return {**super().env(), "BENCH_PG_URL": self.url}

    def setup(self):
        import psycopg
        from pgqueuer.db import SyncPsycopgDriver
        from pgqueuer.queries import SyncQueries

        from ..tasks.pgqueuer_app import install

        create_pg_database(self.pg_name)
        asyncio.run(install(self.url))
        self.conn = psycopg.connect(self.url, autocommit=True)
        self.queries = SyncQueries(SyncPsycopgDriver(self.conn))

    def reset(self):
        super().reset()
        tables = self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE 'pgqueuer%'"
        ).fetchall()
        if tables:
            self.conn.execute(f"TRUNCATE {', '.join(t for (t,) in tables)}")

    def enqueue(self, n, start=0):
        enqueue = self.queries.enqueue
        for i in range(start, start + n):
            enqueue("noop", str(i).encode())

    def bulk_enqueue(self, n, start=0):
        payloads = [str(i).encode() for i in range(start, start + n)]
        self.queries.enqueue(["noop"] * n, payloads, [0] * n)

    def consumer_argv(self, concurrency):
        return python("-m", "benchmarks.tasks.pgqueuer_app")

    def pending(self):
        stats = self.queries.queue_size()
        return sum(s.count for s in stats if s.status == "queued")

    def teardown(self):
        self.conn.close()
        super().teardown()
