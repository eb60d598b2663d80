"""Consumers of the raw limits: ``python -m benchmarks.rawworkers redis|postgres``.

Each loop takes one message per round trip (BRPOP; one claiming DELETE per
transaction) and runs the same no-op body as every other system.
"""

from __future__ import annotations

import os
import sys
import time

from . import done

CLAIM = (
    "DELETE FROM bench_job WHERE id = (SELECT id FROM bench_job ORDER BY id "
    "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING arg"
)


def redis_loop() -> None:
    client, key = done.client(), done.raw_key()
    while True:
        item = client.brpop([key], timeout=1)
        if item is not None:
            done.record(int(item[1]))


def postgres_loop() -> None:
    import psycopg

    conn = psycopg.connect(os.environ["BENCH_PG_URL"], autocommit=True)
    idle = 0.001
    while True:
        row = conn.execute(CLAIM).fetchone()
        if row is None:
            time.sleep(idle)  # polls every millisecond when idle
            continue
        done.record(row[0])


if __name__ == "__main__":
    {"redis": redis_loop, "postgres": postgres_loop}[sys.argv[1]]()
