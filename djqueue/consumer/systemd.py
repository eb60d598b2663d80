"""systemd's notify protocol (``Type=notify``), without libsystemd.

Messages are datagrams to the socket named by ``$NOTIFY_SOCKET`` (see
sd_notify(3)). Without that variable every method does nothing, so the
consumer can call them unconditionally.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

logger = logging.getLogger("djqueue.systemd")


class SystemdNotifier:
    """Tell systemd the consumer is ready, alive, or stopping."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # A leading "@" names a socket in the abstract namespace.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval: float | None = None
        watchdog_usec = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        for_us = not watchdog_pid or watchdog_pid == str(os.getpid())
        if self.address and watchdog_usec.isdigit() and for_us:
            # Beat at half the interval, as sd_watchdog_enabled(3) advises.
            self.watchdog_interval = int(watchdog_usec) / 1_000_000 / 2
        self._socket: socket.socket | None = None
        # The consumer's main thread (signal handlers included, hence
        # reentrant) and its call watch both notify.
        self._lock = threading.RLock()

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *assignments: str) -> None:
        """Send ``KEY=value`` lines in one datagram; never raise."""
        if not self.address:
            return
        try:
            with self._lock:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.sendto("\n".join(assignments).encode(), self.address)
        except OSError as exc:
            logger.warning("Cannot notify systemd at %r: %s", self.address, exc)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1")
        if status:
            self.notify(f"STATUS={status}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self, seconds_needed: float) -> None:
        """Say the consumer is stopping and may need ``seconds_needed`` more."""
        self.notify(
            "STOPPING=1", f"EXTEND_TIMEOUT_USEC={int(seconds_needed * 1_000_000)}"
        )
