"""A TCP proxy that tests put between a consumer and its server, to make
the server hang or refuse connections for real."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time


class TcpProxy:
    """Forward 127.0.0.1:``port`` (a port the OS picks) to ``upstream``.

    :meth:`freeze` stops forwarding and keeps every socket open, new
    connections included (they wait in the listen backlog): a server that
    accepts and never answers. :meth:`cut` closes every connection and the
    listening socket, so connections are refused; :meth:`restore` listens
    again on the same port. Stop it with :meth:`close`.
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._listener: socket.socket | None = None
        self.port = self._listen(0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.setblocking(False)
        with self._lock:
            self._listener = listener
            self._selector.register(listener, selectors.EVENT_READ)
        return listener.getsockname()[1]

    def freeze(self) -> None:
        with self._lock:  # no forwarding is half done once this returns
            self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
            for sock in list(self._peers):
                self._drop(sock)

    def restore(self) -> None:
        self._listen(self.port)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self.cut()
        self._selector.close()

    def _run(self) -> None:
        while not self._closed.is_set():
            if self._frozen.is_set():
                time.sleep(0.02)
                continue
            events = self._selector.select(timeout=0.05)
            with self._lock:
                if self._frozen.is_set():
                    continue
                for key, _ in events:
                    sock = key.fileobj
                    if sock is self._listener:
                        self._accept()
                    elif sock in self._peers:
                        self._forward(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.setblocking(True)
            sock.settimeout(5)
            self._selector.register(sock, selectors.EVENT_READ)
        self._peers[client], self._peers[server] = server, client

    def _forward(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
            if data:
                self._peers[sock].sendall(data)
                return
        except OSError:
            pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for one in (sock, peer):
            if one is None:
                continue
            self._peers.pop(one, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(one)
            one.close()
