"""A plain ``SKIP LOCKED`` queue, hand-written for the sustained run's
baseline: ``python -m benchmarks.skiplocked`` runs one consumer.

Not djqueue: the smallest queue a PostgreSQL user would write by hand, so
that djqueue's table can be compared with it in the same run. One table of
ids and arguments, one index (the primary key); a consumer takes the oldest
row it can lock, runs the job and deletes the row in the same transaction:

    BEGIN;
    SELECT id, arg FROM skiplocked_job ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
    -- run the job
    DELETE FROM skiplocked_job WHERE id = $1;
    COMMIT;

and polls every millisecond while the table is empty.
"""

from __future__ import annotations

import os
import time

from . import done

TABLE = "skiplocked_job"
SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(id bigserial PRIMARY KEY, arg integer NOT NULL)"
)
CLAIM = f"SELECT id, arg FROM {TABLE} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
FINISH = f"DELETE FROM {TABLE} WHERE id = %s"
#: Seconds a consumer sleeps when it found the table empty.
IDLE = 0.001


def enqueue(conn, numbers: range) -> None:
    """Queue ``numbers`` in one multi-row ``INSERT`` (one commit)."""
    if numbers:
        marks = ", ".join(["(%s)"] * len(numbers))
        conn.execute(f"INSERT INTO {TABLE} (arg) VALUES {marks}", list(numbers))


def consume(conn) -> None:
    """Run jobs until killed, one transaction each."""
    while True:
        with conn.transaction():
            row = conn.execute(CLAIM).fetchone()
            if row is not None:
                done.record(row[1])
                conn.execute(FINISH, (row[0],))
        if row is None:
            time.sleep(IDLE)


if __name__ == "__main__":
    import psycopg

    consume(psycopg.connect(os.environ["BENCH_PG_URL"], autocommit=True))
