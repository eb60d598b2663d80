"""A real PgBouncer in transaction pooling mode, in front of the test
PostgreSQL server, for the tests of tests/test_pgbouncer.py."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import IN_CI, reachable

#: Debian's pgbouncer package puts it here (scripts/system-packages pgbouncer).
PGBOUNCER = os.environ.get("DJQUEUE_PGBOUNCER", "/usr/sbin/pgbouncer")
#: It refuses to run as root: as root it is started as this user.
RUN_AS = "postgres"


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PgBouncer:
    """One ``pgbouncer`` process in ``directory`` (its ini, auth file and
    log), listening on a spare loopback port, pooling per transaction."""

    def __init__(self, directory: Path, upstream_host: str, upstream_port: int):
        self.port = spare_port()
        self.log_path = directory / "pgbouncer.log"
        users = directory / "users.txt"
        users.write_text(f'"{RUN_AS}" ""\n')
        ini = directory / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={upstream_host} port={upstream_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            "pool_mode = transaction\n"
            "default_pool_size = 4\n"
            "min_pool_size = 3\n"
            "server_round_robin = 1\n"
            # psycopg sends no startup options Django needs kept.
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        command = [PGBOUNCER, str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", RUN_AS]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self.pid = self.process.pid
        try:
            self._wait_until_listening(timeout=10)
        except BaseException:
            self.stop()
            raise

    def _wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not reachable("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise AssertionError(f"pgbouncer exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"pgbouncer not listening after {timeout}s:\n{self.log()}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL: the process is gone when this returns."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def require_pgbouncer() -> None:
    """Skip (on a laptop) or fail (in CI) when PgBouncer is not installed."""
    if os.access(PGBOUNCER, os.X_OK):
        return
    text = (
        f"PgBouncer is not at {PGBOUNCER}: run scripts/system-packages pgbouncer "
        "(Debian: apt-get install -y pgbouncer)"
    )
    if IN_CI:
        pytest.fail(f"{text}, and CI requires it.")
    pytest.skip(text)
