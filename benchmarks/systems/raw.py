"""The raw limits: plain redis-py and psycopg loops doing the same work."""

from __future__ import annotations

from .. import done
from .base import PG_URL, System, create_pg_database, python


class RawRedis(System):
    key = "raw-redis"
    label = "raw redis-py LPUSH / BRPOP"
    store = "redis"
    kind = "raw"
    bulk_note = "(pipelined LPUSH)"

    def enqueue(self, n, start=0):
        client, key = done.client(), done.raw_key()
        for i in range(start, start + n):
            client.lpush(key, i)

    def bulk_enqueue(self, n, start=0):
        pipe, key = done.client().pipeline(transaction=False), done.raw_key()
        for i in range(start, start + n):
            pipe.lpush(key, i)
        pipe.execute()

    def consumer_argv(self, concurrency):
        return python("-m", "benchmarks.rawworkers", "redis")

    def pending(self):
        return done.client().llen(done.raw_key())


class RawPostgres(System):
    key = "raw-pg"
    label = "raw psycopg INSERT / SKIP LOCKED"
    store = "postgres"
    kind = "raw"
    bulk_note = "(COPY)"
    pg_db = "raw"

    def env(self):
        return {**super().env(), "BENCH_PG_URL": PG_URL.format(name=self.pg_name)}

    def setup(self):
        import psycopg

        create_pg_database(self.pg_name)
        self.conn = psycopg.connect(PG_URL.format(name=self.pg_name), autocommit=True)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_job "
            "(id bigserial PRIMARY KEY, arg integer NOT NULL)"
        )

    def reset(self):
        super().reset()
        self.conn.execute("TRUNCATE bench_job")

    def enqueue(self, n, start=0):
        for i in range(start, start + n):
            self.conn.execute("INSERT INTO bench_job (arg) VALUES (%s)", (i,))

    def bulk_enqueue(self, n, start=0):
        cursor = self.conn.cursor()
        with cursor, cursor.copy("COPY bench_job (arg) FROM STDIN") as copy:
            for i in range(start, start + n):
                copy.write_row((i,))

    def consumer_argv(self, concurrency):
        return python("-m", "benchmarks.rawworkers", "postgres")

    def pending(self):
        return self.conn.execute("SELECT count(*) FROM bench_job").fetchone()[0]

    def teardown(self):
        self.conn.close()
        super().teardown()
