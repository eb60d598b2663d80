"""OpenTelemetry traces and metrics of enqueues and runs (``djqueue[opentelemetry]``).

With :ref:`QUEUE_OPENTELEMETRY <setting-QUEUE_OPENTELEMETRY>` on, the app
calls :func:`install` when it is ready; call it yourself to pass providers
of your own. Nothing of OpenTelemetry is imported until then, and without it
enqueueing and running do no tracing work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...commands.enqueue import add_send_tracer, remove_send_tracer
from ...consumer.execution import add_run_tracer, remove_run_tracer

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from .instruments import Instruments

#: What install() added, for uninstall() to remove.
_installed: Instruments | None = None


def install(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> None:
    """Trace and measure every enqueue and run in this process, with the
    given providers or OpenTelemetry's global ones (in place of those of an
    earlier call)."""
    global _installed
    from .instruments import Instruments

    uninstall()
    _installed = Instruments(tracer_provider, meter_provider)
    add_send_tracer(_installed)
    add_run_tracer(_installed.run)


def uninstall() -> None:
    """Stop tracing and measuring enqueues and runs."""
    global _installed
    if _installed is not None:
        remove_send_tracer(_installed)
        remove_run_tracer(_installed.run)
        _installed = None
