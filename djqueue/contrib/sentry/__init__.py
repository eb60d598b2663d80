"""Sentry's queue spans and cron check-ins for djqueue (where ``sentry-sdk``
is installed).

With :ref:`QUEUE_SENTRY <setting-QUEUE_SENTRY>` on, the app calls
:func:`install` when it is ready. Nothing of Sentry is imported until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tracing import Installed

if TYPE_CHECKING:
    from .queues import SentryQueues

_installed: Installed[SentryQueues] = Installed()


def install() -> None:
    """Report every enqueue and run in this process to Sentry's queue
    module, and each run of a periodic command as a cron check-in."""
    from .queues import SentryQueues

    _installed.replace(SentryQueues())


def uninstall() -> None:
    """Stop reporting enqueues and runs to Sentry."""
    _installed.clear()
