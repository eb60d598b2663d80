"""The benchmarked systems, by key, in report order."""

from __future__ import annotations

import importlib

#: key -> "module:Class" under benchmarks.systems.
#: Each raw limit is next to its djqueue system: they are measured one right
#: after the other inside each repetition.
SYSTEMS = {
    "raw-redis": "raw:RawRedis",
    "djqueue-redis": "djqueue_system:DjqueueRedis",
    "djqueue-redis-2p": "djqueue_system:DjqueueRedisTwoProcesses",
    "raw-pg": "raw:RawPostgres",
    "djqueue-pg": "djqueue_system:DjqueuePostgres",
    "djqueue-pg-2p": "djqueue_system:DjqueuePostgresTwoProcesses",
    "djqueue-sqlite-stock": "djqueue_system:DjqueueSqliteStock",
    "djqueue-sqlite-wal": "djqueue_system:DjqueueSqliteWal",
    "huey-sqlite": "redis_peers:HueySqlite",
    "huey-redis": "redis_peers:HueyRedis",
    "huey-redis-2p": "redis_peers:HueyRedisProcesses",
    "rq-fork": "redis_peers:RQFork",
    "rq-simple": "redis_peers:RQSimple",
    "celery-redis": "redis_peers:CeleryRedis",
    "dramatiq-redis": "redis_peers:DramatiqRedis",
    "threadmill-redis": "core_tasks_peers:ThreadmillRedis",
    "djq2-redis": "db_peers:DjangoQRedis",
    "djq2-orm": "db_peers:DjangoQOrm",
    "djtasks-pg": "db_peers:DjangoTasksPostgres",
    "django-ox-pg": "core_tasks_peers:DjangoOxPostgres",
    "procrastinate-pg": "db_peers:ProcrastinatePostgres",
    "pgqueuer-pg": "pgqueuer_system:PgQueuerPostgres",
}
#: What ``--smoke`` runs: djqueue, the raw limits and one peer (only huey is
#: installed for it, to keep CI short).
SMOKE = [
    "raw-redis", "djqueue-redis", "raw-pg", "djqueue-pg",
    "djqueue-sqlite-stock", "djqueue-sqlite-wal",
]  # fmt: skip
SMOKE_PEERS = ["huey-redis"]
#: What ``--memory`` runs unless ``--systems`` says otherwise (memory does not
#: depend on SQLite's journal, and WAL runs a million messages much sooner).
MEMORY = ["djqueue-redis", "djqueue-sqlite-wal", "djqueue-pg"]
#: What ``--depth`` runs unless ``--systems`` says otherwise.
DEPTH = ["djqueue-pg", "raw-pg", "djqueue-redis"]


def load(key: str):
    """Return an instance of the system ``key``."""
    module, _, name = SYSTEMS[key].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)()
