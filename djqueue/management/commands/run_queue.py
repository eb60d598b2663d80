"""``manage.py run_queue``: parse arguments, set up logging, run a Consumer."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    SystemCheckError,
)
from django.db import connections

from djqueue.backends.database.sqlite_tuning import log_databases
from djqueue.conf import settings
from djqueue.consumer import Consumer
from djqueue.consumer.child import ChildOrders
from djqueue.consumer.runners import ProcessRunner
from djqueue.consumer.supervisor import EXIT_CONFIG, EXIT_UNAVAILABLE, Supervisor
from djqueue.consumer.systemd import SystemdNotifier
from djqueue.exceptions import UnknownQueue
from djqueue.queues import get_queue, queue_names

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
)

LOG_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG, 3: logging.DEBUG}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


def positive_seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, not {text}")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds ≥ 0, not {text}")
    return value


class Command(BaseCommand):
    help = (
        "Consume messages from the named queues (all configured queues by "
        "default) until stopped with SIGTERM or SIGINT."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "queues", nargs="*", metavar="QUEUE", help="Queues to consume, in order."
        )
        parser.add_argument(
            "-c",
            "--concurrency",
            type=positive_int,
            default=4,
            help="Number of worker threads (default: 4).",
        )
        parser.add_argument(
            "--prefetch",
            type=non_negative_int,
            default=None,
            metavar="N",
            help="Messages claimed beyond the worker threads, so that a worker "
            "that finishes one finds the next at hand (default: 16; 0 for long "
            "commands shared by many consumers).",
        )
        parser.add_argument(
            "-p",
            "--processes",
            type=positive_int,
            default=1,
            help="Number of consumer processes, each with its own workers, "
            "under one supervising process (default: 1, no supervisor).",
        )
        parser.add_argument(
            "--burst",
            action="store_true",
            help="Run what is ready, then exit instead of waiting for more.",
        )
        parser.add_argument(
            "--grace-period",
            type=seconds,
            default=30.0,
            help="Seconds to let running messages finish on SIGTERM before "
            "releasing them back to their queue (default: 30).",
        )
        parser.add_argument(
            "--lease",
            type=positive_seconds,
            default=None,
            help="Seconds a message stays leased between heartbeats "
            "(default: the QUEUE_LEASE_SECONDS setting).",
        )
        parser.add_argument(
            "--worker-type",
            choices=["thread", "process"],
            default="thread",
            help="Run commands in the worker threads (default) or in one child "
            "process per worker, which enforces timeouts and can be recycled.",
        )
        parser.add_argument(
            "--max-messages",
            type=positive_int,
            default=None,
            help="Process workers: replace a child after this many messages. "
            "Thread workers: stop the consumer after this many (for a "
            "supervisor to restart it).",
        )
        parser.add_argument(
            "--max-memory",
            type=positive_int,
            default=None,
            metavar="MIB",
            help="Process workers: replace a child once its resident memory "
            "passes this many MiB after a message.",
        )
        parser.add_argument(
            "--no-periodic",
            action="store_true",
            help="Do not enqueue periodic commands from this consumer.",
        )
        parser.add_argument(
            "--worker-id",
            default=None,
            help="Name of this consumer in logs and the admin (default: host:pid).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        configure_logging(options["verbosity"])
        if options["processes"] > 1:
            return self.supervise(options)
        consumer = self.make_consumer(options, options["worker_id"])
        install_signal_handlers(consumer)
        consumer.run()
        finish(consumer)

    def make_consumer(self, options: dict[str, Any], worker_id: str | None) -> Consumer:
        """The consumer the options describe; a configuration error is a
        CommandError with status 78."""
        try:
            self.check(display_num_errors=False)
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
                **runner_options(options),
            )
        except (SystemCheckError, ImproperlyConfigured, UnknownQueue) as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIG) from exc
        log_databases([queue.name for queue in consumer.queues])
        return consumer

    def supervise(self, options: dict[str, Any]) -> None:
        """Run ``--processes`` consumer processes under a Supervisor, once
        the settings proved sound here (one error message, not one a child)."""
        try:
            self.check(display_num_errors=False)
            for name in options["queues"] or queue_names():
                get_queue(name)
        except (SystemCheckError, ImproperlyConfigured, UnknownQueue) as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIG) from exc
        runner_options(options)
        # The children open their own connections; the supervisor keeps none.
        connections.close_all()
        supervisor = Supervisor(
            options["processes"],
            f"{__name__}.run_child",
            {name: options[name] for name in CHILD_OPTIONS},
            worker_id=options["worker_id"] or f"{socket.gethostname()}:{os.getpid()}",
            grace_period=options["grace_period"],
            burst=options["burst"],
            notifier=SystemdNotifier(),
        )
        install_supervisor_signal_handlers(supervisor)
        status = supervisor.run()
        if status:
            raise CommandError(
                f"The consumer processes stopped with exit status {status}; "
                "see the log above.",
                returncode=status,
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


def run_child(options: dict[str, Any], worker_id: str, orders: ChildOrders) -> int:
    """One consumer process of a supervisor; return its exit status."""
    configure_logging(options["verbosity"], worker_id)
    options = {**options, "processes": 1}
    try:
        consumer = Command().make_consumer(options, worker_id)
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


def runner_options(options: dict[str, Any]) -> dict[str, Any]:
    """Consumer arguments for the chosen worker type."""
    if options["worker_type"] == "process":
        factory = functools.partial(
            ProcessRunner, options["max_messages"], options["max_memory"]
        )
        return {"runner_factory": factory, "worker_type": "process"}
    if options["max_memory"]:
        raise CommandError("--max-memory needs --worker-type process.", returncode=2)
    return {"max_messages": options["max_messages"]}


def configure_logging(verbosity: int, worker_id: str = "") -> None:
    """Log to stderr at the chosen verbosity unless LOGGING already does;
    a consumer process of a supervisor (``worker_id``) marks its lines."""
    logger = logging.getLogger("djqueue")
    logger.setLevel(LOG_LEVELS.get(verbosity, logging.INFO))
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        mark = f"[{worker_id.replace('%', '%%')}] " if worker_id else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s %(name)s {mark}%(message)s")
        )
        logger.addHandler(handler)
        logger.propagate = False


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
