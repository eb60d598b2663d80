"""What a backend answers for the optional parts it does not have.

:class:`~djqueue.backends.base.BaseQueue` derives from
:class:`OptionalParts`: every ``supports_*`` flag of an optional part is
False, and every call of one raises ``NotImplementedError`` with a sentence
naming the backend class and the flag. A backend that has a part derives
from its class (:mod:`.inspection`, :mod:`.presence`, :mod:`.statistics`,
:mod:`.ticks`, :mod:`.unique`, :mod:`.pausing`, :mod:`.progress`,
:mod:`.expiry`), which sets the flag and makes the part's calls abstract;
suspects are the exception: a backend that keeps them sets
``supports_suspects`` and overrides both of their calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..states import State

if TYPE_CHECKING:
    from ..envelope.message import Message
    from .inspection import ChangeScan, ConsumerInfo, MessageScan, Throughput
    from .pausing import Pause


class OptionalParts:
    """The flags of the optional parts, all False, and their refusals."""

    # Whether reclaim_expired() marks what it requeues as suspect, for
    # claim_suspect() alone to lease.
    supports_suspects = False
    # Whether counts, lists and the admin's actions work (inspection.Inspection).
    supports_inspection = False
    # Whether consumers can register here (presence.ConsumerPresence).
    supports_presence = False
    # Whether finished runs are counted here (statistics.RunStatistics).
    supports_statistics = False
    # Whether periodic commands can tick here (ticks.PeriodicTicks).
    supports_periodic = False
    # Whether write_unique() keeps one pending message per key (unique.UniqueKeys).
    supports_unique = False
    # Whether the queue can be paused and resumed (pausing.Pausing).
    supports_pause = False
    # Whether set_progress() stores a running command's progress
    # (progress.ProgressReports).
    supports_progress = False
    # Whether messages keep a deadline to start by (expiry.Expiry).
    supports_expiry = False

    def claim_suspect(
        self, worker: str, lease_seconds: float, now: datetime | None = None
    ) -> Message | None:
        """Lease the ready suspect message that has waited longest (earliest
        eta), as :meth:`claim` leases, or return ``None`` if none is ready.

        The message stays suspect while it runs, and after a :meth:`release`;
        :meth:`ack`, :meth:`fail` and :meth:`retry_later` clear the mark. A
        consumer runs a suspect message alone, so that if its process dies
        again only that message is charged the lost attempt.
        """
        raise unsupported(self, "supports_suspects")

    def has_suspects(self) -> bool:
        """Return whether a suspect message is ready, at the cost of one
        index lookup whatever the queue's depth."""
        raise unsupported(self, "supports_suspects")

    def write_unique(self, message: Message) -> str:
        raise unsupported(self, "supports_unique")

    def pause(self, by: str, reason: str = "", now: datetime | None = None) -> Pause:
        raise unsupported(self, "supports_pause")

    def resume(self) -> Pause | None:
        raise unsupported(self, "supports_pause")

    def pause_state(self) -> Pause | None:
        raise unsupported(self, "supports_pause")

    def expire_due(self, now: datetime | None = None, limit: int = 500) -> list[str]:
        raise unsupported(self, "supports_expiry")

    def write_tick(self, message: Message, name: str, tick: datetime) -> bool:
        raise unsupported(self, "supports_periodic")

    def set_progress(self, message: Message, progress: str) -> bool:
        raise unsupported(self, "supports_progress")

    def last_ticks(self) -> dict[str, datetime]:
        raise unsupported(self, "supports_periodic")

    def counts(self) -> dict[State, int]:
        raise unsupported(self, "supports_inspection")

    def list_messages(
        self,
        state: State,
        offset: int = 0,
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> list[Message]:
        raise unsupported(self, "supports_inspection")

    def scan_messages(
        self,
        state: State,
        cursor: str = "",
        limit: int = 50,
        command: str | None = None,
        argument: str | None = None,
        error: str | None = None,
    ) -> MessageScan:
        raise unsupported(self, "supports_inspection")

    def retry(self, message_id: str, now: datetime | None = None) -> bool:
        raise unsupported(self, "supports_inspection")

    def cancel(self, message_id: str, now: datetime | None = None) -> bool:
        raise unsupported(self, "supports_inspection")

    def delete(self, message_id: str) -> bool:
        raise unsupported(self, "supports_inspection")

    def purge(self, state: State) -> int:
        raise unsupported(self, "supports_inspection")

    def run_now(self, message_id: str, now: datetime | None = None) -> bool:
        raise unsupported(self, "supports_inspection")

    def change_messages(
        self,
        action: str,
        state: State,
        message_ids: Sequence[str],
        now: datetime | None = None,
    ) -> int:
        raise unsupported(self, "supports_inspection")

    def change_scan(
        self,
        action: str,
        state: State,
        cursor: str = "",
        limit: int = 1000,
        command: str | None = None,
        now: datetime | None = None,
    ) -> ChangeScan:
        raise unsupported(self, "supports_inspection")

    def oldest_queued_at(self) -> datetime | None:
        raise unsupported(self, "supports_inspection")

    def register_consumer(
        self, info: ConsumerInfo, ttl: float, now: datetime | None = None
    ) -> None:
        raise unsupported(self, "supports_presence")

    def unregister_consumer(self, consumer_id: str) -> None:
        raise unsupported(self, "supports_presence")

    def consumers(self, now: datetime | None = None) -> list[ConsumerInfo]:
        raise unsupported(self, "supports_presence")

    def record_runs(
        self,
        counts: Mapping[tuple[str, State], int],
        now: datetime | None = None,
        seconds: Mapping[tuple[str, State], float] | None = None,
    ) -> None:
        raise unsupported(self, "supports_statistics")

    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
        raise unsupported(self, "supports_statistics")

    def command_totals(self) -> dict[str, tuple[int, int]]:
        raise unsupported(self, "supports_statistics")

    def command_seconds(self) -> dict[str, float]:
        raise unsupported(self, "supports_statistics")


#: What each optional part lets a backend do, for the sentence of the error
#: that a call to a part the backend lacks raises.
_OPTIONAL_PARTS = {
    "supports_inspection": "inspecting and changing its stored messages",
    "supports_presence": "registering the consumers that serve it",
    "supports_statistics": "counting the runs that finished",
    "supports_periodic": "ticks of periodic commands",
    "supports_unique": "unique keys",
    "supports_pause": "pausing and resuming the queue",
    "supports_expiry": "deadlines by which messages must start (expires)",
    "supports_suspects": "keeping apart the messages whose worker was lost",
    "supports_progress": "storing the progress of running commands",
}


def unsupported(queue: OptionalParts, flag: str) -> NotImplementedError:
    """Return the error that a call to an optional part ``queue`` lacks
    raises: a sentence naming the backend class and the ``flag``."""
    return NotImplementedError(
        f"{type(queue).__name__} does not support {_OPTIONAL_PARTS[flag]} "
        f"(its {flag} flag is False)."
    )
