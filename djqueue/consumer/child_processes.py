"""The supervisor's side of its child processes: how one is started, what
its notifications say, and how it is reaped.

Each child is a ``spawn``\\ ed process that runs
:func:`~djqueue.consumer.child.child_bootstrap`, with a notification socket
of its own as ``NOTIFY_SOCKET`` (so it talks systemd's protocol unchanged
and the supervisor knows who spoke) and a pipe that carries the
supervisor's orders. The sockets live in a private directory, removed when
the supervisor closes its :class:`Spawner`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .child import child_bootstrap
from .exit_statuses import EXIT_UNAVAILABLE

#: Seconds before a dead child is replaced: doubled at each death in a row,
#: up to BACKOFF_MAX; a child that lived BACKOFF_RESET seconds resets it.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
BACKOFF_RESET = 60.0


@dataclass
class Child:
    """One child process of a slot, and what its notifications said."""

    slot: int
    process: Any
    control: Any
    socket: socket.socket
    started: float
    ready: bool = False
    pinged: float = 0.0
    killed: bool = False

    def read_notifications(self, clock: Callable[[], float]) -> bool:
        """Read what the child said since the last read; return whether it
        said READY for the first time. READY and WATCHDOG are pings."""
        became_ready = False
        while True:
            try:
                datagram = self.socket.recv(4096)
            except (BlockingIOError, InterruptedError):
                return became_ready
            lines = datagram.decode(errors="replace").split("\n")
            if "READY=1" in lines and not self.ready:
                self.ready = True
                became_ready = True
            if "WATCHDOG=1" in lines or "READY=1" in lines:
                self.pinged = clock()

    def close(self) -> int:
        """Remove the child's socket and close its pipe, once it exited;
        return its exit status, 69 if the supervisor killed it."""
        with contextlib.suppress(OSError):
            os.unlink(self.socket.getsockname())
        self.socket.close()
        self.control.close()
        status: int = self.process.exitcode
        return EXIT_UNAVAILABLE if self.killed else status


@dataclass
class Slot:
    """A place for one child; ``deaths`` counts its short-lived children in
    a row, ``due`` when the next one starts."""

    number: int
    child: Child | None = None
    deaths: int = 0
    due: float | None = 0.0
    statuses: list[int] = field(default_factory=list)

    def backoff(self, lived: float) -> float:
        """Count the death of a child that lived ``lived`` seconds; return
        the seconds to wait before its replacement starts."""
        self.deaths = 1 if lived >= BACKOFF_RESET else self.deaths + 1
        delay: float = min(BACKOFF_FIRST * 2 ** (self.deaths - 1), BACKOFF_MAX)
        return delay


class Spawner:
    """Start children that call ``child_main(child_args, worker_id,
    orders)``; ``child_args`` must pickle."""

    def __init__(self, child_main: str, child_args: Any) -> None:
        self.child_main = child_main
        self.child_args = child_args
        self._context = multiprocessing.get_context("spawn")
        self._directory = ""
        self._generation = 0

    def open(self) -> None:
        """Make the private directory of the children's sockets."""
        self._directory = tempfile.mkdtemp(prefix="djqueue-supervisor-")

    def close(self) -> None:
        """Remove the directory, and any socket left in it."""
        shutil.rmtree(self._directory, ignore_errors=True)

    def start(
        self,
        slot: int,
        worker_id: str,
        watchdog_interval: float | None,
        clock: Callable[[], float],
    ) -> Child:
        """Start the child of ``slot``, named ``worker_id``; with a watchdog
        interval, it pings twice per interval."""
        self._generation += 1
        path = os.path.join(self._directory, f"{slot}-{self._generation}.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(path)
        notify.setblocking(False)
        child_orders, orders = self._context.Pipe(duplex=False)
        environ = {"NOTIFY_SOCKET": path}
        if watchdog_interval:
            # The child beats at half its WATCHDOG_USEC: twice per interval
            # of ours, so one late beat does not cost an upstream one.
            environ["WATCHDOG_USEC"] = str(int(watchdog_interval * 1_000_000))
        process = self._context.Process(
            target=child_bootstrap,
            args=(self.child_main, self.child_args, worker_id, child_orders, environ),
            name=f"djqueue-consumer-{slot}",
        )
        process.start()
        child_orders.close()
        return Child(slot, process, orders, notify, clock())
