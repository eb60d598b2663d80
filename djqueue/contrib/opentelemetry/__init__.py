"""OpenTelemetry traces and metrics of enqueues and runs (``djqueue[opentelemetry]``).

With :ref:`QUEUE_OPENTELEMETRY <setting-QUEUE_OPENTELEMETRY>` on, the app
calls :func:`install` when it is ready; call it yourself to pass providers
of your own. Nothing of OpenTelemetry is imported until then, and without it
enqueueing and running do no tracing work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tracing import Installed

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from .instruments import Instruments

_installed: Installed[Instruments] = Installed()


def install(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> None:
    """Trace and measure every enqueue and run in this process, with the
    given providers or OpenTelemetry's global ones (in place of those of an
    earlier call)."""
    from .instruments import Instruments

    _installed.replace(Instruments(tracer_provider, meter_provider))


def uninstall() -> None:
    """Stop tracing and measuring enqueues and runs."""
    _installed.clear()
