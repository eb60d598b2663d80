"""What a ``DatabaseQueue`` does with the messages it leased.

Acknowledge, fail, retry later, release, extend, store progress: each
statement matches a row on its id, its ``running`` state and the lease
token of the claim that leased it, so a lease that was lost (expired and
reclaimed, released, or deleted) changes nothing, and the call says so.
Many acknowledgements at once are in :mod:`~djqueue.backends.database.acks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F

from ...envelope.message import Message
from ...states import State
from .part import DatabasePart

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord


class DatabaseLeases(DatabasePart):
    """Mixed into ``DatabaseQueue``; relies on its ``records``, ``now``,
    ``expiry`` and ``failed_ttl``."""

    def _leased(self, message: Message) -> QuerySet[MessageRecord]:
        return self.records.filter(
            id=message.id, state=State.RUNNING, lease_token=message.lease_token
        )

    def ack(
        self,
        message: Message,
        result: str | None = None,
        result_ttl: float = 0,
        now: datetime | None = None,
    ) -> bool:
        leased = self._leased(message)
        if not result_ttl:
            return leased.delete()[0] > 0
        now = now or self.now()
        return bool(
            leased.update(
                state=State.DONE,
                unique_key=None,
                lock_held=None,
                suspect=False,
                result=result,
                error="",
                traceback="",
                finished_at=now,
                expires_at=self.expiry(now, result_ttl),
                lease_token="",
                lease_expires_at=None,
            )
        )

    def fail(
        self,
        message: Message,
        error: str,
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        return bool(
            self._leased(message).update(
                state=State.FAILED,
                unique_key=None,
                lock_held=None,
                suspect=False,
                error=error,
                traceback=traceback,
                attempt_errors=message.attempt_errors,
                finished_at=now,
                expires_at=self.expiry(now, self.failed_ttl),
                lease_token="",
                lease_expires_at=None,
            )
        )

    def retry_later(
        self,
        message: Message,
        eta: datetime,
        error: str = "",
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        return bool(
            self._leased(message).update(
                state=State.SCHEDULED if eta > now else State.QUEUED,
                suspect=False,
                eta=eta,
                error=error,
                traceback=traceback,
                attempt_errors=message.attempt_errors,
                lease_token="",
                lease_expires_at=None,
                lock_held=None,
                progress="",
            )
        )

    def release(self, messages: Iterable[Message]) -> int:
        released = 0
        for token, ids in _by_token(messages).items():
            released += self.records.filter(
                id__in=ids, state=State.RUNNING, lease_token=token
            ).update(
                state=State.QUEUED,
                attempts=F("attempts") - 1,
                lease_token="",
                lease_expires_at=None,
                lock_held=None,
                progress="",
            )
        return released

    def extend(
        self,
        messages: Iterable[Message],
        lease_seconds: float,
        now: datetime | None = None,
    ) -> int:
        lease_expires_at = self.expiry(now or self.now(), lease_seconds)
        extended = 0
        for token, ids in _by_token(messages).items():
            extended += self.records.filter(
                id__in=ids, state=State.RUNNING, lease_token=token
            ).update(lease_expires_at=lease_expires_at)
        return extended

    def set_progress(self, message: Message, progress: str) -> bool:
        return bool(self._leased(message).update(progress=progress))


def _by_token(messages: Iterable[Message]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for message in messages:
        grouped[message.lease_token].append(message.id)
    return grouped
