"""pytest fixtures for djqueue; enable them with
``pytest_plugins = ["djqueue.testing.pytest"]`` in a ``conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import Outbox, capture_enqueued, run_enqueued


@pytest.fixture
def djqueue_outbox() -> Iterator[Outbox]:
    """The messages this test enqueued, emptied for each test."""
    with capture_enqueued() as outbox:
        yield outbox


@pytest.fixture
def djqueue_run() -> object:
    """:func:`djqueue.testing.run_enqueued`: call it to run what the test
    enqueued, in the test's thread and transaction."""
    return run_enqueued
