"""The procrastinate app on PostgreSQL and its task."""

import os

from procrastinate import App, PsycopgConnector

from benchmarks import done

app = App(connector=PsycopgConnector(conninfo=os.environ["BENCH_PG_URL"]))


@app.task(queue="bench", name="noop")
def noop(x: int) -> int:
    return done.record(x)
