"""Redis servers that do not answer, for tests of what stays bounded: a
listener that accepts connections and never answers, and a refused port."""

from __future__ import annotations

import socket
import threading

from django.conf import settings as django_settings


class SilentServer:
    """A TCP listener on 127.0.0.1 that accepts connections, counts them,
    and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(connection)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()
        for connection in self.accepted:
            connection.close()
        self.listener.close()


def refused_port() -> int:
    """A port nothing listens on: bound by us, then closed."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def configure_dead_queue(settings, port: int) -> None:
    """Add a queue ``dead`` on ``port`` beside the working ``default`` one."""
    working = getattr(django_settings, "QUEUES", None) or {
        "default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"}
    }
    settings.QUEUES = {
        **working,
        "dead": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"INSPECT_TIMEOUT": 0.5},
        },
    }
