"""``manage.py run_queue``: parse the arguments and hand over to a
:class:`~djqueue.consumer.Consumer`, or to a
:class:`~djqueue.consumer.supervisor.Supervisor` of several consumer
processes.

The argparse types are in :mod:`djqueue.management.arguments`, how the
consumer runs in this process in :mod:`djqueue.management.running`, and
what a supervisor's child runs in :mod:`djqueue.management.child_process`.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    SystemCheckError,
)
from django.db import connections

from djqueue.backends.handler import get_queue, queue_names
from djqueue.consumer.exit_statuses import EXIT_CONFIG
from djqueue.consumer.supervisor import Supervisor
from djqueue.consumer.systemd import SystemdNotifier
from djqueue.exceptions import UnknownQueue

from ..arguments import non_negative_int, positive_int, positive_seconds, seconds
from ..child_process import CHILD_MAIN, CHILD_OPTIONS
from ..running import (
    configure_logging,
    finish,
    install_signal_handlers,
    install_supervisor_signal_handlers,
    make_consumer,
    runner_options,
    warn_of_queues_in_this_process,
)


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
            "--async-runs",
            type=positive_int,
            default=1,
            metavar="N",
            help="Run up to N messages at once in each worker thread, on an "
            "event loop of its own: for async commands that mostly wait "
            "(default: 1, one message at a time). Thread workers only.",
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
            "--log-format",
            choices=["text", "json"],
            default="text",
            help="Write log lines as text (default) or as JSON objects, with "
            "the message id, command, queue, attempt and outcome as fields.",
        )
        parser.add_argument(
            "--worker-id",
            default=None,
            help="Name of this consumer in logs and the admin (default: host:pid).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        configure_logging(options["verbosity"], log_format=options["log_format"])
        if options["processes"] > 1:
            return self.supervise(options)
        consumer = make_consumer(options, options["worker_id"], self.check)
        install_signal_handlers(consumer)
        consumer.run()
        finish(consumer)

    def supervise(self, options: dict[str, Any]) -> None:
        """Run ``--processes`` consumer processes under a Supervisor, once
        the settings proved sound here (one error message, not one a child)."""
        try:
            self.check(display_num_errors=False)
            queues = [get_queue(name) for name in options["queues"] or queue_names()]
        except (SystemCheckError, ImproperlyConfigured, UnknownQueue) as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIG) from exc
        warn_of_queues_in_this_process(queues)
        runner_options(options)
        # The children open their own connections; the supervisor keeps none.
        connections.close_all()
        supervisor = Supervisor(
            options["processes"],
            CHILD_MAIN,
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
