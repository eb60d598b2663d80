"""Helpers for testing code that enqueues: run what was enqueued, see what was.

:func:`run_enqueued` runs the messages of a queue in the caller's thread and
database transaction, through the consumer's own steps (claim, execute,
store the outcome, send the signal), so a plain ``django.test.TestCase``
sees the same records and signals as with a consumer. :func:`capture_enqueued`
collects the messages enqueued while it is open, as ``mail.outbox`` does
for mail. The pytest fixtures are in :mod:`djqueue.testing.pytest`.
"""

from __future__ import annotations

from .outbox import EnqueuedMessage, Outbox, capture_enqueued
from .running import run_enqueued

__all__ = ["EnqueuedMessage", "Outbox", "capture_enqueued", "run_enqueued"]
