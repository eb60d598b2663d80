"""The child's side of ``run_queue --processes``: a consumer process that
a :class:`~djqueue.consumer.supervisor.Supervisor` started.

A child takes its stop orders from the supervisor only, through a pipe: it
ignores SIGTERM and SIGINT, which systemd (``KillMode=control-group``) and
a terminal send to every process, so that one stop never counts as two.
When the pipe closes, the supervisor is gone, and the child stops
gracefully by itself.
"""

from __future__ import annotations

from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

import logging
import os
import signal
import threading
from collections.abc import Callable

logger = logging.getLogger("djqueue.consumer")


class ChildOrders:
    """The child's side of the supervisor's orders: ``on_stop(force)`` is
    called from a thread of its own for each order, and as a graceful stop
    when the supervisor is gone (the pipe closed)."""

    def __init__(self, connection: Connection[Any, Any]) -> None:
        self.connection = connection

    def follow(self, on_stop: Callable[[bool], None]) -> None:
        def listen() -> None:
            while True:
                try:
                    order = self.connection.recv()
                except (EOFError, OSError):
                    logger.warning("The supervisor is gone; stopping")
                    on_stop(False)
                    return
                on_stop(order == "release")

        threading.Thread(target=listen, name="djqueue-orders", daemon=True).start()


def child_bootstrap(
    child_main: str,
    child_args: Any,
    worker_id: str,
    connection: Connection[Any, Any],
    environ: dict[str, str],
) -> None:
    """The entry point of a child process: its environment, Django, then
    ``child_main``; exit with the status it returns."""
    # A handler, not SIG_IGN, which the commands' own subprocesses would
    # inherit through exec.
    signal.signal(signal.SIGINT, _not_yours)
    signal.signal(signal.SIGTERM, _not_yours)
    os.environ.update(environ)
    os.environ.pop("WATCHDOG_PID", None)
    if "WATCHDOG_USEC" not in environ:
        os.environ.pop("WATCHDOG_USEC", None)
    import django
    from django.utils.module_loading import import_string

    django.setup()
    main = import_string(child_main)
    raise SystemExit(main(child_args, worker_id, ChildOrders(connection)))


def _not_yours(signum: int, frame: FrameType | None) -> None:
    logger.debug("Ignored %s: the supervisor stops this process", signum)
