"""What the tracing integrations share: one object traces both sides.

An integration (OpenTelemetry's instruments, Sentry's queue spans) is a
send tracer of the caller's side whose :meth:`~Integration.run` is a run
tracer of the consumer's; :class:`Installed` adds and removes both halves
together, so that an integration is never installed on one side only.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, Protocol, TypeVar

from ..commands.enqueue import Sending, send_tracers
from ..consumer.execution import Outcome, run_tracers
from ..envelope.message import Message


class Integration(Protocol):
    def sending(self, queue: str, command: str) -> AbstractContextManager[Sending]:
        """The context that one enqueue of ``command`` runs in."""

    def run(self, message: Message, run: Callable[[], Outcome]) -> Outcome:
        """Call ``run`` (one run of ``message``) in a trace; never raises."""


T = TypeVar("T", bound=Integration)


class Installed(Generic[T]):
    """The one integration of a kind installed in this process, if any."""

    def __init__(self) -> None:
        self.current: T | None = None

    def replace(self, integration: T) -> None:
        """Trace every enqueue and run with ``integration``, in place of the
        one installed before."""
        self.clear()
        self.current = integration
        send_tracers.add(integration)
        run_tracers.add(integration.run)

    def clear(self) -> None:
        """Stop tracing with the installed integration (if there is one).
        Bound methods of one object compare equal, so ``run`` finds the one
        added."""
        if self.current is not None:
            send_tracers.remove(self.current)
            run_tracers.remove(self.current.run)
        self.current = None
