"""The optional presence part: the consumers that serve a queue, as the
admin pages, ``queue_info`` and the metrics view list them.

A backend that derives from :class:`ConsumerPresence` supports it
(``supports_presence`` is True); a consumer registers with every such queue
it serves at each heartbeat, and skips the queues of other backends.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime

from .base import BaseQueue
from .inspection import ConsumerInfo


class ConsumerPresence(BaseQueue):
    """Which consumers are alive, each for the ttl it registered with."""

    # Whether consumers can register here.
    supports_presence = True

    @abstractmethod
    def register_consumer(
        self, info: ConsumerInfo, ttl: float, now: datetime | None = None
    ) -> None:
        """Record that the consumer ``info.id`` serves this queue; it counts
        as alive for ``ttl`` seconds from ``now``. Registering again is the
        heartbeat."""

    @abstractmethod
    def unregister_consumer(self, consumer_id: str) -> None:
        """Forget a consumer that stopped (a no-op if it is unknown)."""

    @abstractmethod
    def consumers(self, now: datetime | None = None) -> list[ConsumerInfo]:
        """Return the consumers alive at ``now``, the latest started first."""
