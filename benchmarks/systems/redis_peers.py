"""Peers on Redis: huey (and its SQLite storage), RQ, Celery, dramatiq."""

from __future__ import annotations

from .. import done
from .base import System, python, script


class HueyRedis(System):
    key = "huey-redis"
    label = "huey RedisHuey"
    store = "redis"

    def setup(self):
        from ..tasks import huey_tasks

        self.huey = huey_tasks.huey
        self.noop = huey_tasks.noop

    def reset(self):
        super().reset()
        self.huey.flush()

    def enqueue(self, n, start=0):
        noop = self.noop
        for i in range(start, start + n):
            noop(i)

    def consumer_argv(self, concurrency):
        argv = python(
            "-m", "huey.bin.huey_consumer", "benchmarks.tasks.huey_tasks.huey"
        )
        return argv + (["--workers", str(concurrency)] if concurrency else [])

    has_concurrency = True

    def pending(self):
        return self.huey.pending_count()


class HueyRedisProcesses(HueyRedis):
    key = "huey-redis-2p"
    label = "huey RedisHuey, 2 process workers"
    has_concurrency = True
    default_concurrency = 2
    drain1_note = "one worker: huey-redis"

    def consumer_argv(self, concurrency):
        return python(
            "-m", "huey.bin.huey_consumer", "benchmarks.tasks.huey_tasks.huey",
            "--workers", str(concurrency or 2), "--worker-type", "process",
        )  # fmt: skip


class HueySqlite(HueyRedis):
    key = "huey-sqlite"
    label = "huey SqliteHuey"
    store = "sqlite"

    def env(self):
        return {**super().env(), "BENCH_SQLITE": str(self.sqlite_path)}


class RQFork(System):
    key = "rq-fork"
    label = "RQ Worker (forks per job)"
    store = "redis"
    worker_class = "rq.worker.Worker"
    bulk_note = ""

    def env(self):
        # RQ's keys are all under RQ_KEY_PREFIX, read when rq is imported.
        return {**super().env(), "RQ_KEY_PREFIX": f"{done.run_prefix()}:rq"}

    def setup(self):
        from rq import Queue

        from ..tasks.plain import noop

        self.noop = noop
        self.queue = Queue("bench", connection=done.client())

    def enqueue(self, n, start=0):
        for i in range(start, start + n):
            self.queue.enqueue(self.noop, i)

    def bulk_enqueue(self, n, start=0):
        prepare = self.queue.prepare_data
        self.queue.enqueue_many(
            [prepare(self.noop, (i,)) for i in range(start, start + n)]
        )

    def consumer_argv(self, concurrency):
        return script(
            "rq", "worker", "-u", self.done_url, "-w", self.worker_class, "bench"
        )

    def pending(self):
        return self.queue.count


class RQSimple(RQFork):
    key = "rq-simple"
    label = "RQ SimpleWorker"
    worker_class = "rq.worker.SimpleWorker"


class CeleryRedis(System):
    key = "celery-redis"
    label = "Celery (Redis broker, prefork)"
    store = "redis"
    has_concurrency = True
    default_concurrency = 2  # the number of CPUs
    bulk_note = "group() and chunks() publish one message per task or merge calls"

    def setup(self):
        from ..tasks.celery_app import noop

        self.noop = noop

    def enqueue(self, n, start=0):
        delay = self.noop.delay
        for i in range(start, start + n):
            delay(i)

    def consumer_argv(self, concurrency):
        argv = script(
            "celery", "-A", "benchmarks.tasks.celery_app", "worker", "-l", "WARNING"
        )
        return argv + (["--concurrency", str(concurrency)] if concurrency else [])

    def pending(self):
        return done.client().llen(f"{done.run_prefix()}:celery")


class DramatiqRedis(System):
    key = "dramatiq-redis"
    label = "dramatiq (Redis broker)"
    store = "redis"
    has_concurrency = True
    default_concurrency = 16  # 2 processes (CPUs) x 8 threads
    bulk_note = "group() sends one message per call"

    def setup(self):
        from ..tasks.dramatiq_actors import noop

        self.noop = noop

    def enqueue(self, n, start=0):
        send = self.noop.send
        for i in range(start, start + n):
            send(i)

    def consumer_argv(self, concurrency):
        argv = script("dramatiq", "benchmarks.tasks.dramatiq_actors")
        return argv + (["-p", "1", "-t", str(concurrency)] if concurrency else [])

    def pending(self):
        return done.client().llen(f"{done.run_prefix()}:default")
