"""Claims of a ``RedisQueue`` and the outcomes of the messages it leased."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ...envelope.message import MAX_ATTEMPT_ERRORS, Message
from ..base import Ack, Reclaimed
from ..reasons import LEASE_EXPIRED, WORKER_LOST
from .hashes import attempt_errors, stamp, to_message
from .part import RedisPart

#: Messages acknowledged per script call by ack_many().
ACK_BATCH = 1000


class RedisLeases(RedisPart):
    """Mixed into ``RedisQueue``; relies on its ``client``, ``key``,
    ``_run``, ``_script``, ``_block_slice``, ``expiry`` and ``now``."""

    def claim(
        self,
        worker: str,
        lease_seconds: float,
        limit: int = 1,
        now: datetime | None = None,
        timeout: float = 0,
    ) -> list[Message]:
        now = now or self.now()
        messages = self._claim(worker, lease_seconds, limit, now)
        if messages or timeout <= 0:
            return messages
        # The claim is sent behind the wait, on the same connection: a
        # consumer that is woken gets its messages in that round trip.
        wait = min(timeout, self._block_slice())
        arguments = self._claim_arguments(worker, lease_seconds, limit, now)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.blpop([self.key("notify")], timeout=wait)
            # By name: a cluster pipeline refuses its evalsha() method, not
            # the command (both keys are in the queue's slot, on one node).
            sha = self._script("claim").sha
            pipe.execute_command("EVALSHA", sha, 1, self.base, *arguments)
            _, rows = pipe.execute(raise_on_error=False)
        if isinstance(rows, Exception):
            from redis.exceptions import NoScriptError

            if not isinstance(rows, NoScriptError):
                raise rows
            # The server lost its scripts (a restart): the claim loads it.
            return self._claim(worker, lease_seconds, limit, None)
        return [to_message(row, self.name) for row in rows]

    def wait_for_messages(self, timeout: float) -> bool:
        if timeout <= 0:
            return False
        wait = min(timeout, self._block_slice())
        return self.client.blpop([self.key("notify")], timeout=wait) is not None

    def _claim(
        self, worker: str, lease_seconds: float, limit: int, now: datetime | None
    ) -> list[Message]:
        now = now or self.now()
        rows = self._run(
            "claim", *self._claim_arguments(worker, lease_seconds, limit, now)
        )
        return [to_message(row, self.name) for row in rows]

    def claim_suspect(
        self, worker: str, lease_seconds: float, now: datetime | None = None
    ) -> Message | None:
        now = now or self.now()
        rows = self._run(
            "claim_suspect", *self._claim_arguments(worker, lease_seconds, 1, now)
        )
        return to_message(rows[0], self.name) if rows else None

    def has_suspects(self) -> bool:
        return bool(self._run("has_suspects"))

    def _claim_arguments(
        self, worker: str, lease_seconds: float, limit: int, now: datetime
    ) -> list[str | int]:
        return [
            limit,
            stamp(self.expiry(now, lease_seconds)),
            uuid.uuid4().hex,
            worker,
            stamp(now),
            stamp(self.expiry(now, self.failed_ttl)),
        ]

    def ack(
        self,
        message: Message,
        result: str | None = None,
        result_ttl: float = 0,
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        acked = self._ack_arguments(message, result, result_ttl, now)
        return bool(self._run("ack", stamp(now), *acked))

    def ack_many(self, acks: Sequence[Ack], now: datetime | None = None) -> list[bool]:
        """One script call per ``ACK_BATCH`` acknowledgements, which runs
        :meth:`ack`'s for each in turn."""
        now, acks = now or self.now(), list(acks)
        moment, kept = stamp(now), []
        for start in range(0, len(acks), ACK_BATCH):
            values: list[str | int] = [moment]
            for message, result, result_ttl in acks[start : start + ACK_BATCH]:
                values += self._ack_arguments(message, result, result_ttl, now)
            kept += [bool(done) for done in self._run("ack_many", *values)]
        return kept

    def _ack_arguments(
        self, message: Message, result: str | None, result_ttl: float, now: datetime
    ) -> list[str | int]:
        """The values of one acknowledgement for the scripts' ``ack()``."""
        ttl_ms = math.ceil(result_ttl * 1000) if result_ttl else 0
        expires = self.expiry(now, result_ttl) if ttl_ms else None
        return [message.id, message.lease_token, result or "", ttl_ms, stamp(expires)]

    def ack_and_claim(
        self,
        message: Message,
        result: str | None,
        result_ttl: float,
        worker: str,
        lease_seconds: float,
        now: datetime | None = None,
    ) -> tuple[bool, list[Message]]:
        now = now or self.now()
        kept, rows = self._run(
            "ack_and_claim",
            stamp(now),
            *self._ack_arguments(message, result, result_ttl, now),
            *self._claim_arguments(worker, lease_seconds, 1, now),
        )
        return bool(kept), [to_message(row, self.name) for row in rows]

    def fail(
        self,
        message: Message,
        error: str,
        traceback: str = "",
        now: datetime | None = None,
    ) -> bool:
        now = now or self.now()
        return bool(
            self._run(
                "fail",
                message.id,
                message.lease_token,
                error,
                traceback,
                stamp(now),
                stamp(self.expiry(now, self.failed_ttl)),
                attempt_errors(message),
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
            self._run(
                "retry_later",
                message.id,
                message.lease_token,
                stamp(eta),
                error,
                traceback,
                stamp(now),
                attempt_errors(message),
            )
        )

    def release(self, messages: Iterable[Message]) -> int:
        pairs = [value for m in messages for value in (m.id, m.lease_token)]
        return self._run("release", *pairs) if pairs else 0

    def extend(
        self,
        messages: Iterable[Message],
        lease_seconds: float,
        now: datetime | None = None,
    ) -> int:
        pairs = [value for m in messages for value in (m.id, m.lease_token)]
        if not pairs:
            return 0
        lease = stamp(self.expiry(now or self.now(), lease_seconds))
        extended: int = self._run("extend", lease, *pairs)
        return extended

    def set_progress(self, message: Message, progress: str) -> bool:
        token = message.lease_token
        return bool(self._run("set_progress", message.id, token, progress))

    def reclaim_expired(self, now: datetime | None = None) -> int:
        return self.reclaim(now).taken

    def reclaim(self, now: datetime | None = None) -> Reclaimed:
        now = now or self.now()
        # The count, then the ids of the messages failed on their last attempt.
        reply: list[Any] = self._run(
            "reclaim_expired",
            stamp(now),
            stamp(self.expiry(now, self.failed_ttl)),
            WORKER_LOST,
            LEASE_EXPIRED,
            MAX_ATTEMPT_ERRORS,
        )
        failed = [i.decode() if isinstance(i, bytes) else str(i) for i in reply[1:]]
        return Reclaimed(int(reply[0]), failed)
