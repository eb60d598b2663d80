"""What the parts of :class:`~djqueue.consumer.consumer.Consumer` (its
housekeeping and its shutdown) use of the consumer they are mixed into and
of one another, declared for the type checker.

To the type checker each part has these attributes and methods, which
``Consumer.__init__`` sets and the other parts define; at run time it
derives from ``object`` alone, so ``Consumer`` and its method resolution
order are what they would be without this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading
    from abc import abstractmethod
    from collections.abc import Callable
    from datetime import datetime

    from ..backends.base import BaseQueue
    from ..commands.periodic import PeriodicTicker
    from .acks import AckBuffer
    from .claiming import Claimer
    from .housekeeping import Schedule
    from .inflight import InFlight
    from .outages import BackendCalls, CallAbandoned, CallWatch
    from .presence import Presence
    from .systemd import SystemdNotifier
    from .workers import Workers

    class ConsumerPart:
        queues: list[BaseQueue]
        worker_id: str
        lease_seconds: float
        heartbeat_interval: float
        grace_period: float
        clock: Callable[[], float]
        now: Callable[[], datetime]
        notifier: SystemdNotifier
        presence: Presence
        inflight: InFlight
        workers: Workers
        acks: AckBuffer
        claimer: Claimer
        calls: BackendCalls
        watch: CallWatch
        unanswered: bool
        unreleased: int
        _ticks: PeriodicTicker | None
        _ready: bool
        _stopping: threading.Event
        _force: bool
        _schedule: Schedule
        _watchdog_fed: float

        @abstractmethod
        def _wait(self, seconds: float) -> None: ...

        @abstractmethod
        def _heartbeat(self) -> int | None: ...

        @abstractmethod
        def _watchdog(self) -> None: ...

        @abstractmethod
        def _abandoned(self, exc: CallAbandoned) -> None: ...

else:
    ConsumerPart = object
