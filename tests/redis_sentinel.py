"""A Redis run by Sentinel for the tests: a master, one replica and three
sentinels, each a redis-server of the tests' own on a spare loopback port.

``sentinel_deployment`` is one such deployment for the whole session (the
contract suite's ``redis-sentinel`` parameter runs on it); a test that
injects a fault into its servers starts a :class:`SentinelDeployment` of its
own. Every process is stopped by its pid when the deployment stops.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from djqueue.backends.redis import RedisQueue

#: The service name under which the sentinels monitor the master.
SERVICE = "djqueue-test"
#: Milliseconds without an answer after which a sentinel deems the master
#: down, and after which a failover that did not end is tried again: small,
#: so a test's failover takes a second or two.
DOWN_AFTER_MS = 500
FAILOVER_TIMEOUT_MS = 4000
#: Seconds the deployment may take to come up, and one server to stop.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def spare_port() -> int:
    """A loopback port nothing listens on: bound by us, then closed."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def need_redis_server() -> None:
    """Skip without the redis-server binary (fail in CI, which installs it)."""
    if shutil.which("redis-server") is None:
        reason = "the redis-server binary is not on PATH (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and CI requires it.")
        pytest.skip(reason)


class Server:
    """One redis-server process (a data server or a sentinel)."""

    def __init__(self, port: int, arguments: list[str], log_path: Path) -> None:
        self.port = port
        self.arguments = arguments
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(shutil.which("redis-server")), *self.arguments],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def client(self, timeout: float = 2.0):
        import redis

        return redis.Redis(
            "127.0.0.1", self.port, socket_timeout=timeout, decode_responses=True
        )

    def kill(self) -> None:
        """SIGKILL: the server dies without a word to anyone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its connections and answers nothing."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()


class SentinelDeployment:
    """A master and a replica watched by three sentinels with a quorum of
    two, in ``directory``. :meth:`start` returns once every sentinel knows
    the master, the replica and the two other sentinels."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        master_port, replica_port = spare_port(), spare_port()
        self.master = self._data_server(master_port, "master")
        self.replica = self._data_server(
            replica_port, "replica", "--replicaof", "127.0.0.1", str(master_port)
        )
        self.sentinels = [self._sentinel(master_port, n) for n in range(3)]

    def _data_server(self, port: int, name: str, *more: str) -> Server:
        arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        arguments += ["--appendonly", "no", "--dir", str(self.directory)]
        # A replica's first sync starts at once, not after 5 s (the default).
        arguments += ["--repl-diskless-sync-delay", "0", *more]
        return Server(port, arguments, self.directory / f"{name}.log")

    def _sentinel(self, master_port: int, number: int) -> Server:
        port = spare_port()
        config = self.directory / f"sentinel-{number}.conf"
        config.write_text(
            f"port {port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.directory}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        log_path = self.directory / f"sentinel-{number}.log"
        return Server(port, [str(config), "--sentinel"], log_path)

    @property
    def servers(self) -> list[Server]:
        return [self.master, self.replica, *self.sentinels]

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` CONNECTION of the deployment's db 0."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        try:
            self.master.start()
            self.replica.start()
            self._wait_until(self._replica_in_sync, "the replica to sync")
            for sentinel in self.sentinels:
                sentinel.start()
            self._wait_until(self._sentinels_ready, "the sentinels to agree")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def restart_as_replica(self, server: Server, of: Server) -> None:
        """Start ``server`` again as a replica of ``of``, as an operator
        brings back a master that failed over: never as a second master."""
        arguments = server.arguments
        if "--replicaof" in arguments:
            arguments = arguments[: arguments.index("--replicaof")]
        server.arguments = [*arguments, "--replicaof", "127.0.0.1", str(of.port)]
        server.start()

    def master_address(self) -> tuple[str, int] | None:
        """Where the sentinels that answer say the master is, if they agree."""
        seen = set()
        for sentinel in self.sentinels:
            try:
                host, port = sentinel.client().sentinel_get_master_addr_by_name(SERVICE)
            except Exception:  # a sentinel that is gone or does not know yet
                continue
            seen.add((host, int(port)))
        return seen.pop() if len(seen) == 1 else None

    def logs(self) -> str:
        return "\n".join(
            f"--- {s.log_path.name}\n{s.log_path.read_text(errors='replace')[-2000:]}"
            for s in self.servers
            if s.log_path.exists()
        )

    def _replica_in_sync(self) -> bool:
        info = self.replica.client().info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            client = sentinel.client()
            master = client.sentinel_master(SERVICE)
            replicas = client.sentinel_slaves(SERVICE)
            if master["num-other-sentinels"] != len(self.sentinels) - 1:
                return False
            if not any(
                r["port"] == self.replica.port and not r["is_sdown"] for r in replicas
            ):
                return False
        return True

    def _wait_until(self, predicate, what: str, timeout: float = START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if predicate():
                    return
            except Exception:  # a server not listening yet
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n{self.logs()}"
                )
            time.sleep(0.05)


@pytest.fixture(scope="session")
def sentinel_deployment(tmp_path_factory):
    """The session's Sentinel deployment (started on first use)."""
    need_redis_server()
    deployment = SentinelDeployment(tmp_path_factory.mktemp("sentinel"))
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()


def sentinel_queue(request) -> RedisQueue:
    """A fresh queue of the contract suite on the session's deployment."""
    deployment = request.getfixturevalue("sentinel_deployment")
    name = f"contract-{uuid.uuid4().hex[:8]}"
    # The deployment is the tests' own: no prefix of the run is needed.
    return RedisQueue(name, deployment.url, PREFIX="djqueue-test")


def use_sentinel(settings, deployment: SentinelDeployment, query: str = ""):
    """Point the default queue at ``deployment`` under a fresh prefix; return
    the environment a run_queue process needs to share it. ``query`` is
    added to the URL (``"?socket_timeout=2"``)."""
    url = deployment.url + query
    prefix = f"djqueue-test-{uuid.uuid4().hex[:8]}"
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": url,
            "OPTIONS": {"PREFIX": prefix},
        }
    }
    return {
        "DJQUEUE_BACKEND": "redis",
        "DJQUEUE_REDIS_URL": url,
        "DJQUEUE_REDIS_PREFIX": prefix,
    }
