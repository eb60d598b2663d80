"""A PostgreSQL server of the run's own, as PostgreSQL ships it.

The sustained run measures autovacuum at its defaults, which a shared or a
test server may have changed (this machine's has ``autovacuum = off``); it
starts a private cluster instead: ``initdb`` into a temporary directory,
trust authentication for ``postgres``, every setting at PostgreSQL's
default but the address (loopback), a spare port and the socket
directory. The server runs in its own process group and is stopped by
pid (a fast shutdown, then SIGKILL); its directory is deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: Seconds the server gets to start and to stop.
BUDGET = 60.0


def pg_url(database: str) -> str:
    """The URL of ``database`` on the run's server: the private one's port
    once it is up (``BENCH_PG_PORT``), 5432 for the shared one."""
    port = os.environ.get("BENCH_PG_PORT", "5432")
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian's layout), or the
    directory of ``pg_ctl`` on the PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise RuntimeError("PostgreSQL's initdb was not found")
    return Path(pg_ctl).parent


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateServer:
    """``with PrivateServer() as port:`` a server listening on ``port``."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="djqueue-bench-pg-"))
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def _as_postgres(self, argv: list[str]) -> list[str]:
        # initdb and postgres refuse to run as root.
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def __enter__(self) -> int:
        binaries, data = bin_dir(), self.directory / "data"
        initdb = [
            str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--no-sync",
        ]  # fmt: skip
        subprocess.run(
            self._as_postgres(initdb),
            check=True,
            capture_output=True,
            timeout=BUDGET,
        )
        self.port = spare_port()
        server = [
            str(binaries / "postgres"), "-D", str(data), "-p", str(self.port),
            "-k", str(self.directory), "-c", "listen_addresses=127.0.0.1",
        ]  # fmt: skip
        log = (self.directory / "server.log").open("ab")
        with log:
            self.proc = subprocess.Popen(
                self._as_postgres(server),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + BUDGET
        while not self._accepting():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the private PostgreSQL server did not start")
            time.sleep(0.1)
        return self.port

    def _accepting(self) -> bool:
        import psycopg

        try:
            psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{self.port}/postgres",
                connect_timeout=2,
            ).close()
        except psycopg.OperationalError:
            return False
        return True

    def __exit__(self, *exc_info) -> None:
        if self.proc is not None:
            for signum in (signal.SIGINT, signal.SIGKILL):  # SIGINT: fast shutdown
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signum)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(BUDGET)
                    break
        shutil.rmtree(self.directory, ignore_errors=True)
