"""The dramatiq Redis broker and its actor."""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks import done

dramatiq.set_broker(
    RedisBroker(url=os.environ["BENCH_DONE_URL"], namespace=done.run_prefix())
)


@dramatiq.actor
def noop(x: int) -> int:
    return done.record(x)
