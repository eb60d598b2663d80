"""The Celery app (Redis broker, no result backend) and its task."""

import os

from celery import Celery

from benchmarks import done

app = Celery("bench", broker=os.environ["BENCH_DONE_URL"])
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False
# Every key under the run's prefix: the Redis server is shared.
app.conf.broker_transport_options = {"global_keyprefix": f"{done.run_prefix()}:"}


@app.task
def noop(x: int) -> int:
    return done.record(x)
