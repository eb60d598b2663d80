"""The PgQueuer consumer of the run: ``python -m benchmarks.tasks.pgqueuer_app``.

``PgQueuer.run()`` at its defaults, as ``pgq run benchmarks.tasks.pgqueuer_app:main``
would start it; the ``pgq`` command itself fails at start-up with the typer
release pip installs beside it (its ``--log-level`` default reaches the
logger as a string).
"""

import asyncio
import os

from benchmarks import done


async def main():
    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver

    connection = await asyncpg.connect(os.environ["BENCH_PG_URL"])
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job) -> None:
        done.record(int(job.payload))

    return pgq


async def install(url: str) -> None:
    """Create PgQueuer's tables and functions in the run's database."""
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    connection = await asyncpg.connect(url)
    try:
        await Queries(AsyncpgDriver(connection)).install()
    finally:
        await connection.close()


async def consume() -> None:
    pgq = await main()
    await pgq.run()


if __name__ == "__main__":
    asyncio.run(consume())
