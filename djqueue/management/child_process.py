"""What a consumer process of a ``run_queue --processes`` supervisor runs.

The supervisor starts each child with :data:`CHILD_MAIN`, the dotted path
of :func:`run_child`, and the values of :data:`CHILD_OPTIONS` (plain values,
which pickle). The child builds its consumer as ``run_queue`` would, takes
its stop orders from the supervisor (:func:`follow_order`), and returns its
exit status: 0, 69 when it stopped without the backend's answer, 78 on a
configuration error.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from djqueue.consumer import Consumer
from djqueue.consumer.child import ChildOrders

from .running import configure_logging, finish, make_consumer

#: The options a consumer process of a supervisor needs (all plain values).
CHILD_OPTIONS = (
    "queues",
    "concurrency",
    "burst",
    "grace_period",
    "lease",
    "worker_type",
    "max_messages",
    "max_memory",
    "no_periodic",
    "verbosity",
    "prefetch",
    "log_format",
    "async_runs",
)


def run_child(options: dict[str, Any], worker_id: str, orders: ChildOrders) -> int:
    """One consumer process of a supervisor; return its exit status."""
    configure_logging(options["verbosity"], worker_id, options["log_format"])
    options = {**options, "processes": 1}
    try:
        consumer = make_consumer(options, worker_id, BaseCommand().check)
        orders.follow(functools.partial(follow_order, consumer))
        consumer.watch.enable_interrupts()
        consumer.run()
        finish(consumer)
    except CommandError as exc:
        sys.stderr.write(f"CommandError: {exc}\n")
        return exc.returncode
    return 0


def follow_order(consumer: Consumer, release: bool) -> None:
    """The supervisor's order: stop (like a first SIGTERM) or release now."""
    if not consumer.stopping:
        logging.getLogger("djqueue.consumer").info(
            "Consumer %s told to stop", consumer.worker_id
        )
        consumer.stop()
    if release:
        logging.getLogger("djqueue.consumer").warning(
            "Consumer %s told to release running messages now", consumer.worker_id
        )
        consumer.stop()


#: The dotted path of :func:`run_child`, which the supervisor's children
#: import once Django is set up.
CHILD_MAIN = f"{__name__}.run_child"
