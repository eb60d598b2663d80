"""The huey instance of the run (Redis or SQLite storage) and its task."""

import os

from huey import RedisHuey, SqliteHuey

from benchmarks import done


def _huey():
    if os.environ.get("BENCH_SYSTEM") == "huey-sqlite":
        return SqliteHuey(done.run_prefix(), filename=os.environ["BENCH_SQLITE"])
    return RedisHuey(done.run_prefix(), url=os.environ["BENCH_DONE_URL"])


huey = _huey()


@huey.task()
def noop(x: int) -> int:
    return done.record(x)
