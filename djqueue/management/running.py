"""How ``run_queue`` runs in its process: the consumer its options
describe, its logging and its stop signals, and the exit status of a
consumer that stopped without the backend's answer.

The command itself (:mod:`djqueue.management.commands.run_queue`) parses
the options and hands over; a consumer process of a supervisor
(:mod:`djqueue.management.child_process`) uses the same parts.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, SystemCheckError

from djqueue.backends.base import BaseQueue
from djqueue.backends.database.sqlite_tuning import log_databases
from djqueue.conf import settings
from djqueue.consumer import Consumer
from djqueue.consumer.exit_statuses import EXIT_CONFIG, EXIT_UNAVAILABLE
from djqueue.consumer.runners import ProcessRunner
from djqueue.consumer.supervisor import Supervisor
from djqueue.consumer.systemd import SystemdNotifier
from djqueue.exceptions import UnknownQueue

from .json_logs import JsonFormatter

logger = logging.getLogger(__name__)

LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


def make_consumer(
    options: dict[str, Any], worker_id: str | None, check: Callable[..., None]
) -> Consumer:
    """The consumer the options describe, once ``check`` (the command's
    ``BaseCommand.check``) passed; a configuration error is a CommandError
    with status 78."""
    try:
        check(display_num_errors=False)
        consumer = Consumer(
            options["queues"] or None,
            options["concurrency"],
            burst=options["burst"],
            lease_seconds=options["lease"] or settings.QUEUE_LEASE_SECONDS,
            grace_period=options["grace_period"],
            worker_id=worker_id,
            notifier=SystemdNotifier(),
            periodic=not options["no_periodic"],
            prefetch=options["prefetch"],
            async_runs=options["async_runs"],
            **runner_options(options),
        )
    except (SystemCheckError, ImproperlyConfigured, UnknownQueue) as exc:
        raise CommandError(str(exc), returncode=EXIT_CONFIG) from exc
    log_databases([queue.name for queue in consumer.queues])
    warn_of_queues_in_this_process(consumer.queues)
    return consumer


def warn_of_queues_in_this_process(queues: Sequence[BaseQueue]) -> None:
    """Log a warning for each queue whose messages no other process sees
    (``shared_between_processes`` is False): a run_queue of its own runs
    only what it enqueues itself, such as periodic ticks."""
    for queue in queues:
        if not queue.shared_between_processes:
            logger.warning(
                "Queue %r is a %s: its messages stay in the process that "
                "enqueued them, so this run_queue runs only what it enqueues "
                "itself (periodic ticks, commands its runs enqueue), never "
                "what other processes enqueue.",
                queue.name,
                type(queue).__name__,
            )


def finish(consumer: Consumer) -> None:
    """Raise the CommandError (69) of a consumer that stopped unanswered."""
    if consumer.unanswered:
        raise CommandError(
            "Stopped without an answer from the queue backend; "
            f"{consumer.unreleased} message(s) not released run again once "
            "their lease expires.",
            returncode=EXIT_UNAVAILABLE,
        )


def runner_options(options: dict[str, Any]) -> dict[str, Any]:
    """Consumer arguments for the chosen worker type."""
    if options["worker_type"] == "process" and options["async_runs"] > 1:
        raise CommandError(
            "--async-runs needs thread workers: process workers run one "
            "message at a time each. Leave out --worker-type process, or "
            "consume the queues of async commands with a run_queue of their "
            "own.",
            returncode=EXIT_CONFIG,
        )
    if options["worker_type"] == "process":
        factory = functools.partial(
            ProcessRunner, options["max_messages"], options["max_memory"]
        )
        return {"runner_factory": factory, "worker_type": "process"}
    if options["max_memory"]:
        raise CommandError("--max-memory needs --worker-type process.", returncode=2)
    return {"max_messages": options["max_messages"]}


def configure_logging(
    verbosity: int, worker_id: str = "", log_format: str = "text"
) -> None:
    """Log to stderr at the chosen verbosity, as text or JSON lines
    (``log_format``), unless LOGGING already does; a consumer process of a
    supervisor (``worker_id``) marks its lines."""
    logger = logging.getLogger("djqueue")
    logger.setLevel(LOG_LEVELS.get(verbosity, logging.INFO))
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        if log_format == "json":
            handler.setFormatter(JsonFormatter())
            if worker_id:
                handler.addFilter(WorkerIdFilter(worker_id))
        else:
            mark = f"[{worker_id.replace('%', '%%')}] " if worker_id else ""
            handler.setFormatter(
                logging.Formatter(
                    f"%(asctime)s %(levelname)s %(name)s {mark}%(message)s"
                )
            )
        logger.addHandler(handler)
        logger.propagate = False


class WorkerIdFilter(logging.Filter):
    """Give each record the ``worker_id`` of this consumer process."""

    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self.worker_id = worker_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker_id = self.worker_id
        return True


def install_signal_handlers(consumer: Consumer) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("djqueue.consumer").warning(
            "Received %s: %s",
            signal.Signals(signum).name,
            "releasing running messages now" if consumer.stopping else "stopping",
        )
        consumer.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    consumer.watch.enable_interrupts()


def install_supervisor_signal_handlers(supervisor: Supervisor) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("djqueue.consumer").warning(
            "Received %s: %s",
            signal.Signals(signum).name,
            "telling the consumer processes to stop",
        )
        supervisor.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
