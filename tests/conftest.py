"""Fixtures shared by the test modules.

``queue`` is the fixture the contract suite runs on: one parameter per
backend and server. Servers that are not reachable skip their parameter,
unless ``CI`` is set, where an unreachable server fails the run.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from djqueue.backends.database import DatabaseQueue

IN_CI = bool(os.environ.get("CI"))


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Skip (on a laptop) or fail (in CI) when a server is not reachable."""
    if reachable(host, port):
        return
    text = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{text}, and CI requires it.")
    pytest.skip(text)


def _database_queue(request) -> DatabaseQueue:
    return DatabaseQueue(f"contract-{uuid.uuid4().hex[:8]}")


#: Backend name -> factory(request) returning a fresh, empty queue.
QUEUE_FACTORIES = {"database": _database_queue}


@pytest.fixture(params=sorted(QUEUE_FACTORIES))
def queue(request):
    """A fresh, empty queue on each backend."""
    backend = QUEUE_FACTORIES[request.param](request)
    yield backend
    backend.flush()
    backend.close()


@pytest.fixture
def other_queue(queue, request):
    """A second queue on the same backend and storage as ``queue``."""
    sibling = type(queue)(f"{queue.name}-other", queue.connection, **queue.options)
    yield sibling
    sibling.flush()
    sibling.close()
