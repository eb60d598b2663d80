"""A real local Redis Cluster for the tests: six ``redis-server`` processes
(three masters, each with a replica) on spare loopback ports.

The session fixture ``redis_cluster`` starts it once, waits (bounded) until
every node reports ``cluster_state:ok`` and stops every process it started
by pid at the end of the session, or as soon as starting fails. A node's
client port and cluster bus port are both picked by binding port 0.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
#: Milliseconds without an answer before a master counts as failed; the
#: replica then asks to be promoted. Small, so the failover test is quick.
NODE_TIMEOUT_MS = 1000
#: Seconds any wait on the cluster's servers may take.
START_TIMEOUT = 30.0


@dataclass
class ClusterNode:
    """One ``redis-server`` of the cluster."""

    port: int
    bus_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cli(self, *args: str, timeout: float = 10.0) -> str:
        """Run ``redis-cli`` against this node; return what it printed."""
        done = subprocess.run(
            ["redis-cli", "-h", HOST, "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return done.stdout

    def answers(self) -> bool:
        """Whether the server answers PING; raise if its process has ended
        (its port was taken between picking it and binding it, say)."""
        if not self.alive:
            raise AssertionError(f"redis-server on port {self.port} exited")
        return self.cli("ping").strip() == "PONG"

    def info_field(self, section: str, name: str) -> str:
        for line in self.cli("info", section).splitlines():
            key, _, value = line.strip().partition(":")
            if key == name:
                return value
        return ""


@dataclass
class RedisClusterServers:
    """The nodes of a local cluster, started by :meth:`start`."""

    root: Path
    nodes: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL of every node."""
        addresses = ",".join(f"{HOST}:{node.port}" for node in self.nodes)
        return f"redis+cluster://{addresses}"

    def start(self, size: int = 6) -> None:
        ports = spare_ports(2 * size)
        for index in range(size):
            directory = self.root / f"node-{index}"
            directory.mkdir()
            node = ClusterNode(ports[2 * index], ports[2 * index + 1], directory)
            self.nodes.append(node)
            node.process = subprocess.Popen(
                server_command(node),
                cwd=directory,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
        for node in self.nodes:
            poll_until(
                node.answers, f"redis-server on port {node.port} to answer", self
            )
        created = subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"{HOST}:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}")
        self.wait_until_ok()

    def wait_until_ok(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until every live node reports ``cluster_state:ok`` and agrees
        on three masters, each with a slot range."""
        poll_until(self._all_ok, "every node to report cluster_state:ok", self, timeout)

    def _all_ok(self) -> bool:
        live = [node for node in self.nodes if node.alive]
        return all(
            "cluster_state:ok" in node.cli("cluster", "info")
            and len(self.masters(node)) == 3
            for node in live
        )

    def masters(self, seen_from: ClusterNode) -> list[int]:
        """The ports of the masters that serve slots, as ``seen_from`` knows."""
        ports = []
        for line in seen_from.cli("cluster", "nodes").splitlines():
            parts = line.split()
            if len(parts) > 8 and "master" in parts[2] and "fail" not in parts[2]:
                ports.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
        return ports

    def node_of_port(self, port: int) -> ClusterNode:
        return next(node for node in self.nodes if node.port == port)

    def master_of(self, key: str) -> ClusterNode:
        """The node that serves ``key``'s slot now."""
        master = self.serving(key)
        if master is None:
            raise AssertionError(f"no master serves the slot of {key!r}")
        return master

    def serving(self, key: str) -> ClusterNode | None:
        """The master that serves ``key``'s slot as the first live node sees
        the cluster, or None (as while a failed master is replaced)."""
        live = next(node for node in self.nodes if node.alive)
        slot = int(live.cli("cluster", "keyslot", key).strip())
        for line in live.cli("cluster", "nodes").splitlines():
            parts = line.split()
            if len(parts) < 9 or "master" not in parts[2] or "fail" in parts[2]:
                continue
            for span in parts[8:]:
                first, _, last = span.partition("-")
                if first.isdigit() and int(first) <= slot <= int(last or first):
                    port = int(parts[1].split("@")[0].rsplit(":", 1)[1])
                    return self.node_of_port(port)
        return None

    def replica_of(self, master: ClusterNode) -> ClusterNode:
        """The node that replicates ``master``."""
        for node in self.nodes:
            if node is not master and node.alive:
                role = node.info_field("replication", "role")
                port = node.info_field("replication", "master_port")
                if role == "slave" and port == str(master.port):
                    return node
        raise AssertionError(f"no replica of the master on port {master.port}")

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL ``node``; it stays down until :meth:`restart`."""
        os.kill(node.pid, signal.SIGKILL)
        assert node.process is not None
        node.process.wait(timeout=10)

    def restart(self, node: ClusterNode) -> None:
        """Start a killed node again, from its cluster config file (it
        rejoins as a replica of the master that took its slots)."""
        node.process = subprocess.Popen(
            server_command(node),
            cwd=node.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        poll_until(
            node.answers, f"redis-server on port {node.port} to answer again", self
        )

    def stop(self) -> None:
        """Stop every process started, by pid: SIGTERM, then SIGKILL."""
        for node in self.nodes:
            if node.alive:
                assert node.process is not None
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(timeout=10)


def server_command(node: ClusterNode) -> list[str]:
    return [
        "redis-server",
        "--bind",
        HOST,
        "--port",
        str(node.port),
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        str(node.bus_port),
        "--cluster-config-file",
        str(node.directory / "nodes.conf"),
        "--cluster-node-timeout",
        str(NODE_TIMEOUT_MS),
        "--save",
        "",
        "--appendonly",
        "no",
        # Stop at SIGTERM without waiting for replicas to catch up.
        "--shutdown-on-sigterm",
        "nosave now",
        "--dir",
        str(node.directory),
    ]


def spare_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago: each
    socket stays bound until all are picked, so no two are the same."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def poll_until(
    predicate: Callable[[], Any],
    what: str,
    servers: RedisClusterServers | None = None,
    timeout: float = START_TIMEOUT,
) -> Any:
    """Poll ``predicate`` until it returns something true and return it;
    fail after ``timeout`` seconds, saying which of the nodes of
    ``servers`` were still running."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (subprocess.TimeoutExpired, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            nodes = ", ".join(
                f"{node.port} {'running' if node.alive else 'down'}"
                for node in (servers.nodes if servers else [])
            )
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what} (nodes: {nodes})"
            )
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """A six-node local Redis Cluster for the session; skipped without
    ``redis-server`` on PATH, unless ``CI`` is set."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server and redis-cli are not on PATH; CI requires them.")
        pytest.skip("redis-server and redis-cli are not on PATH")
    root = Path(tempfile.mkdtemp(prefix="djqueue-cluster-"))
    servers = RedisClusterServers(root)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(root, ignore_errors=True)


#: The key prefix of the queues the tests build on the cluster (it is the
#: session's own, so no prefix could collide; one keeps the keys readable).
PREFIX = "djqueue-test"


def redis_cluster_queue(request: pytest.FixtureRequest) -> Any:
    """The ``"redis-cluster"`` factory of the contract suite's ``queue``: a
    fresh ``RedisQueue`` on the session's cluster, in the cluster form."""
    from djqueue.backends.redis import RedisQueue

    servers = request.getfixturevalue("redis_cluster")
    return RedisQueue(f"contract-{uuid.uuid4().hex[:8]}", servers.url, PREFIX=PREFIX)


def redis_cluster_backend(
    request: pytest.FixtureRequest, settings: Any, prefix: str
) -> Iterator[dict[str, str]]:
    """The ``"redis-cluster"`` side of ``backend`` and ``server_backend``:
    point the default queue at the cluster under a fresh prefix, yield the
    environment a ``run_queue`` process needs, and flush the queue after."""
    servers = request.getfixturevalue("redis_cluster")
    queue_prefix = f"{prefix}-{uuid.uuid4().hex[:8]}"
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": servers.url,
            "OPTIONS": {"PREFIX": queue_prefix},
        }
    }
    yield {
        "DJQUEUE_BACKEND": "redis",
        "DJQUEUE_REDIS_URL": servers.url,
        "DJQUEUE_REDIS_PREFIX": queue_prefix,
    }
    from djqueue import get_queue

    get_queue().flush()
