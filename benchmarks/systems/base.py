"""The small interface every benchmarked system implements."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .. import done, harness
from ..harness import start_process

PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
#: The Redis server and logical database every system uses. The run's key
#: prefixes keep the systems apart and away from anyone else's keys; the
#: database is not 0 so that the million keys of a memory run do not slow
#: down the SCANs of other users of the server (tests clean up with SCAN).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
#: (main.py gives a --memory run database 14.)


class System:
    """One queue library on one store, driven by the harness.

    ``enqueue``/``bulk_enqueue`` run in the harness's process and queue
    ``noop(i)`` for ``i`` in ``range(start, start + n)``; the consumer runs in
    a separate process. Every Redis key a system writes (its done list, its
    queue) carries the system's prefix for the run (``done.run_prefix()``),
    so that ``reset()`` deletes exactly those keys on a shared server.
    """

    key = ""
    label = ""
    store = ""  # "redis", "postgres" or "sqlite": what the ratios compare within
    kind = "peer"  # "djqueue", "peer" or "raw"
    #: Worker count the consumer uses when given none; 1 when it has no knob.
    default_concurrency = 1
    #: Whether the consumer takes a concurrency at all.
    has_concurrency = False
    bulk_note = "no bulk enqueue API"
    #: Why the one-worker drain is not measured, when another system is it.
    drain1_note = ""

    @property
    def done_url(self) -> str:
        return REDIS_URL

    def env(self) -> dict[str, str]:
        """Environment of this process and of the consumer."""
        return {
            "BENCH_DONE_URL": self.done_url,
            "BENCH_SYSTEM": self.key,
            "BENCH_RUN": done.run_id(),
        }

    def setup(self) -> None:
        """Create databases and schemas; import the client library."""

    def reset(self) -> None:
        """Empty the queue, the done list and anything left from a run."""
        done.delete_run_keys()

    def enqueue(self, n: int, start: int = 0) -> None:
        raise NotImplementedError

    bulk_enqueue = None  # def bulk_enqueue(self, n, start=0) where genuine

    def consumer_argv(self, concurrency: int | None) -> list[str]:
        raise NotImplementedError

    def start_consumer(self, concurrency: int | None = None) -> subprocess.Popen:
        """Start the consumer; ``None`` means its default concurrency."""
        name = f"{self.key}-c{concurrency or 'default'}"
        env = {**self.env(), **self.consumer_env(concurrency)}
        return start_process(self.consumer_argv(concurrency), env, name)

    def consumer_env(self, concurrency: int | None) -> dict[str, str]:
        return {}

    def pending(self) -> int | None:
        """Messages still queued (not yet taken), or None if not observable."""
        return None

    #: The PostgreSQL database's role in its name (``wt_bench_<run>_<pg_db>``),
    #: or "" for a system that has none.
    pg_db = ""

    @property
    def pg_name(self) -> str:
        """This run's own database: concurrent runs never share a queue."""
        return f"wt_bench_{done.run_id().removeprefix('wtbench-')}_{self.pg_db}"

    @property
    def sqlite_path(self) -> Path:
        """This run's own SQLite file for this system."""
        return harness.run_dir() / f"{self.key}.sqlite3"

    def teardown(self) -> None:
        """Drop what ``setup()`` created for the run (its database or file)."""
        if self.pg_db:
            drop_pg_database(self.pg_name)
        for path in harness.run_dir().glob(f"{self.key}.sqlite3*"):
            path.unlink()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def script(name: str, *args: str) -> list[str]:
    """A console script installed in the benchmark's virtualenv."""
    return [str(Path(sys.executable).parent / name), *args]


def create_pg_database(name: str) -> None:
    """Create the PostgreSQL database ``name`` (this run's) if missing."""
    import psycopg

    assert name.startswith(f"wt_bench_{done.run_id().removeprefix('wtbench-')}_")
    with psycopg.connect(PG_URL.format(name="postgres"), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_pg_database(name: str) -> None:
    """Drop this run's database ``name`` (never anyone else's)."""
    import psycopg

    assert name.startswith(f"wt_bench_{done.run_id().removeprefix('wtbench-')}_")
    with psycopg.connect(PG_URL.format(name="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
