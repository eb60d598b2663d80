"""``RedisQueue``: messages in Redis (or Valkey), moved by Lua programs.

redis-py is imported when the first queue is built, never at module import,
so this module imports without it; ``manage.py check`` reports it missing.
Each message is a hash; ids move between sorted sets by atomic programs (see
:mod:`djqueue.backends.redis.lua`). A consumer waiting on an empty queue
blocks on the server and wakes as soon as a message is written. Claims and
outcomes (:mod:`.leases`), inspection, monitoring and scans are mixed in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core import checks

from ...envelope.message import Message
from ...states import FINISHED_STATES, State
from ..base import BaseQueue
from ..expiry import EXPIRE_BATCH, Expiry
from ..inspection import Inspection
from ..pausing import Pausing
from ..presence import ConsumerPresence
from ..progress import ProgressReports
from ..statistics import RunStatistics
from ..ticks import PeriodicTicks
from ..unique import UniqueKeys
from . import lua
from .cluster import connection_options, is_cluster_client, keys_under
from .config import DEFAULT_INSPECT_TIMEOUT, config_errors
from .connection import make_client
from .hashes import placed, stamp, text, to_message
from .inspection import RedisInspection
from .leases import RedisLeases
from .monitoring import RedisMonitoring
from .pausing import RedisPausing
from .scan import RedisScan

#: Messages written per script call by write_many().
WRITE_BATCH = 1000
#: Expired messages deleted per script call by purge_expired().
PURGE_BATCH = 1000


class RedisQueue(
    RedisLeases,
    RedisInspection,
    RedisMonitoring,
    RedisScan,
    RedisPausing,
    Inspection,
    ConsumerPresence,
    RunStatistics,
    PeriodicTicks,
    UniqueKeys,
    Pausing,
    ProgressReports,
    Expiry,
    BaseQueue,
):
    """A queue stored in Redis or Valkey under the key base ``{prefix:name}``.

    Options: ``PREFIX`` (default ``"djqueue"``), ``CLIENT`` (a ready redis-py
    client, for tests), ``CLIENT_FACTORY`` (a callable or dotted path called
    with the connection's keyword arguments), ``FAILED_TTL``, ``ON_COMMIT``
    (default True: inside ``transaction.atomic()`` the write waits for the
    commit) and ``INSPECT_TIMEOUT`` (seconds an inspection read waits, see
    :meth:`for_inspection`).
    """

    supports_transactions = False
    supports_blocking_claim = True
    supports_wakeup = True
    supports_lock_keys = True
    supports_suspects = True
    option_names = BaseQueue.option_names | {
        "PREFIX",
        "CLIENT",
        "CLIENT_FACTORY",
        "INSPECT_TIMEOUT",
    }

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        super().__init__(name, connection, **options)
        self.prefix = options.get("PREFIX", "djqueue")
        self.base = f"{{{self.prefix}:{name}}}"
        self._client = options.get("CLIENT")
        self._owns_client = self._client is None
        self._scripts: dict[str, Any] = {}
        self.inspect_timeout = options.get("INSPECT_TIMEOUT", DEFAULT_INSPECT_TIMEOUT)

    @classmethod
    def check_config(
        cls, name: str, connection: Any, options: dict[str, Any]
    ) -> list[checks.CheckMessage]:
        errors = super().check_config(name, connection, options)
        return errors + config_errors(name, connection, options)

    # -- The client --------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        return make_client(
            self.connection, self.options.get("CLIENT_FACTORY"), self.prefix
        )

    def close(self) -> None:
        self._close_inspection()
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
        self._scripts.clear()

    def _script(self, name: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(lua.source(name))
        return script

    def _run(self, name: str, *args: Any) -> Any:
        return self._script(name)(keys=[self.base], args=list(args))

    def _block_slice(self) -> float:
        """Seconds one blocking call may wait: under the socket timeout."""
        socket_timeout = connection_options(self.client).get("socket_timeout")
        if not socket_timeout:
            return 10.0
        seconds: float = max(0.1, min(10.0, socket_timeout - 1))
        return seconds

    def key(self, suffix: str) -> str:
        return f"{self.base}:{suffix}"

    # -- Writing -------------------------------------------------------------

    def write(self, message: Message) -> None:
        self.write_many((message,))

    def write_many(self, messages: Sequence[Message]) -> None:
        """Write in batches of ``WRITE_BATCH``, one call of the write script
        each, which places every message as :meth:`write` does."""
        now = self.now()
        stamps: dict[datetime, str] = {}
        moment = stamp(now)
        for start in range(0, len(messages), WRITE_BATCH):
            values: list[str | int] = [moment]
            for message in messages[start : start + WRITE_BATCH]:
                values += self._placed(message, now, stamps)
            self._run("write", *values)

    def write_tick(self, message: Message, name: str, tick: datetime) -> bool:
        now = self.now()
        values = self._placed(message, now, {})
        return bool(self._run("write_tick", name, stamp(tick), stamp(now), *values))

    def write_unique(self, message: Message) -> str:
        now = self.now()
        values = self._placed(message, now, {})
        return text(self._run("write_unique", stamp(now), *values))

    def _placed(
        self, message: Message, now: datetime, stamps: dict[datetime, str]
    ) -> list[str | int]:
        """The values of ``message`` for the scripts' ``place()``, which
        stores it scheduled if its eta is after ``now``, else queued; the
        message's ``queue`` and ``state`` are set to match."""
        message.queue = self.name
        message.state = State.SCHEDULED if message.eta > now else State.QUEUED
        return placed(message, stamps)

    def flush(self) -> None:
        """Delete every key of the queue: on a cluster, those of its slot
        (read on the master that owns it); else those a scan finds."""
        if is_cluster_client(self.client):
            keys = keys_under(self.client, self.base)
        else:
            keys = list(self.client.scan_iter(match=f"{self.base}:*", count=10_000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])

    def __len__(self) -> int:
        ready: int = self.client.zcard(self.key("ready"))
        return ready

    # -- Housekeeping --------------------------------------------------------

    def promote_due(self, now: datetime | None = None) -> int:
        now = now or self.now()
        promoted: int = self._run(
            "promote_due", stamp(now), stamp(self.expiry(now, self.failed_ttl))
        )
        return promoted

    def expire_due(
        self, now: datetime | None = None, limit: int = EXPIRE_BATCH
    ) -> list[str]:
        now = now or self.now()
        retained_until = stamp(self.expiry(now, self.failed_ttl))
        ids = self._run("expire_due", stamp(now), limit, retained_until)
        return [text(message_id) for message_id in ids]

    def purge_expired(self, now: datetime | None = None) -> int:
        moment, purged = stamp(now or self.now()), 0
        while (batch := self._run("purge_expired", moment, PURGE_BATCH)) > 0:
            purged += batch
            if batch < PURGE_BATCH:
                break
        return purged

    # -- Results -------------------------------------------------------------

    def get(self, message_id: str) -> Message | None:
        fields = self.client.hgetall(self.key(f"m:{message_id}"))
        return to_message(fields, self.name, text(message_id)) if fields else None

    def wait(self, message_id: str, timeout: float | None) -> Message | None:
        message = self.get(message_id)
        if message is None or message.state in FINISHED_STATES or timeout == 0:
            return message
        waiters = self.key(f"w:{message_id}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = 3600.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return message
            # Rotating the list in place lets every waiter see the one token.
            self.client.blmove(waiters, waiters, min(remaining, self._block_slice()))
            message = self.get(message_id)
            if message is None or message.state in FINISHED_STATES:
                return message
