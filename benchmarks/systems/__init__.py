"""The benchmarked systems, by key, in report order."""

from __future__ import annotations

import importlib

#: key -> "module:Class" under benchmarks.systems.
SYSTEMS = {
    "raw-redis": "raw:RawRedis",
    "raw-pg": "raw:RawPostgres",
    "djqueue-sqlite": "djqueue_system:DjqueueSqlite",
    "djqueue-pg": "djqueue_system:DjqueuePostgres",
    "djqueue-redis": "djqueue_system:DjqueueRedis",
    "huey-redis": "redis_peers:HueyRedis",
    "huey-sqlite": "redis_peers:HueySqlite",
    "rq-fork": "redis_peers:RQFork",
    "rq-simple": "redis_peers:RQSimple",
    "celery-redis": "redis_peers:CeleryRedis",
    "dramatiq-redis": "redis_peers:DramatiqRedis",
    "djq2-redis": "db_peers:DjangoQRedis",
    "djq2-orm": "db_peers:DjangoQOrm",
    "djtasks-pg": "db_peers:DjangoTasksPostgres",
    "procrastinate-pg": "db_peers:ProcrastinatePostgres",
}
#: What ``--smoke`` runs: djqueue, the raw limits and one peer (only huey is
#: installed for it, to keep CI short).
SMOKE = ["raw-redis", "raw-pg", "djqueue-sqlite", "djqueue-pg", "djqueue-redis"]
SMOKE_PEERS = ["huey-redis"]
#: What ``--memory`` runs unless ``--systems`` says otherwise.
MEMORY = ["djqueue-redis", "djqueue-sqlite", "djqueue-pg"]


def load(key: str):
    """Return an instance of the system ``key``."""
    module, _, name = SYSTEMS[key].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)()
