"""Sentry's queue spans and cron check-ins for djqueue (where ``sentry-sdk``
is installed).

With :ref:`QUEUE_SENTRY <setting-QUEUE_SENTRY>` on, the app calls
:func:`install` when it is ready. Nothing of Sentry is imported until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...commands.enqueue import add_send_tracer, remove_send_tracer
from ...consumer.execution import add_run_tracer, remove_run_tracer

if TYPE_CHECKING:
    from .queues import SentryQueues

#: What install() added, for uninstall() to remove.
_installed: SentryQueues | None = None


def install() -> None:
    """Report every enqueue and run in this process to Sentry's queue
    module, and each run of a periodic command as a cron check-in."""
    global _installed
    from .queues import SentryQueues

    uninstall()
    _installed = SentryQueues()
    add_send_tracer(_installed)
    add_run_tracer(_installed.run)


def uninstall() -> None:
    """Stop reporting enqueues and runs to Sentry."""
    global _installed
    if _installed is not None:
        remove_send_tracer(_installed)
        remove_run_tracer(_installed.run)
        _installed = None
