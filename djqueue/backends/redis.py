"""``RedisQueue``: messages in Redis (or Valkey), moved by Lua scripts.

redis-py is imported when the first queue is built, never at module import,
so this module imports without it; ``manage.py check`` reports it missing.
Each message is a hash; ids move between sorted sets by atomic scripts (see
:mod:`djqueue.backends.redis_scripts`). A consumer waiting on an empty queue
blocks on the server and wakes as soon as a message is written.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from ..message import Message
from ..states import FINISHED_STATES as _FINISHED
from ..states import State
from .base import BaseQueue
from .inspection import Inspection
from .presence import ConsumerPresence
from .redis_hash import SUSPECT_CEILING, attempt_errors, placed, stamp, text, to_message
from .redis_inspection import (
    DEFAULT_INSPECT_TIMEOUT,
    INSPECTION_SCRIPTS,
    RedisInspection,
    inspect_timeout_errors,
)
from .redis_scan import RedisScan
from .redis_scripts import SCRIPTS
from .statistics import RunStatistics
from .ticks import PeriodicTicks
from .unique import UniqueKeys

DEFAULT_URL = "redis://127.0.0.1:6379/0"
#: A host name or IPv4 address: what the ``"host:port:db"`` form can carry.
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_SCRIPTS = {**SCRIPTS, **INSPECTION_SCRIPTS}
#: Messages written per script call by write_many().
WRITE_BATCH = 1000
#: Messages acknowledged per script call by ack_many().
ACK_BATCH = 1000
_SET_OF_STATE = {
    State.QUEUED: "ready",
    State.SCHEDULED: "scheduled",
    State.RUNNING: "running",
    State.DONE: "done",
    State.FAILED: "failed",
    State.CANCELLED: "cancelled",
}
_NEWEST_FIRST = {State.DONE, State.FAILED, State.CANCELLED}
WORKER_LOST = (
    "worker lost: the lease expired while the message ran, on its last attempt "
    "(the worker was killed or hung)"
)


def connection_kwargs(connection: Any) -> dict[str, Any]:
    """Turn the ``CONNECTION`` setting into keyword arguments for redis-py.

    Accept ``""`` (the local default), the ``djutils.queue`` form
    ``"host:port:db"`` (a host name or IPv4 address as the host), a
    ``redis://``, ``rediss://`` or ``unix://`` URL, or a dict of
    ``redis.Redis`` arguments (host, port, db, password, ssl,
    socket_timeout, ...). Raise ``ValueError`` for anything else.
    """
    if isinstance(connection, dict):
        return dict(connection)
    if not isinstance(connection, str):
        raise ValueError(
            f"a Redis CONNECTION must be a string or a dict, not {connection!r}"
        )
    text = connection.strip() or DEFAULT_URL
    if "://" in text:
        if not text.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{text!r} is not a redis://, rediss:// or unix:// URL")
        return {"url": text}
    host, _, rest = text.partition(":")
    port, _, db = rest.partition(":")
    try:
        kwargs = {
            "host": host or "127.0.0.1",
            "port": int(port or 6379),
            "db": int(db or 0),
        }
    except ValueError:
        kwargs = None
    if kwargs is None or not _HOST.fullmatch(kwargs["host"]):
        raise ValueError(f"{text!r} is neither a URL nor of the form 'host:port:db'")
    return kwargs


class RedisQueue(
    RedisInspection,
    RedisScan,
    Inspection,
    ConsumerPresence,
    RunStatistics,
    PeriodicTicks,
    UniqueKeys,
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
    def check_config(cls, name, connection, options):
        errors = super().check_config(name, connection, options)
        prefix = options.get("PREFIX", "djqueue")
        if not isinstance(prefix, str) or not prefix or set(prefix) & set("{}"):
            errors.append(
                checks.Error(
                    f"Queue {name!r} has OPTIONS['PREFIX'] = {prefix!r}.",
                    hint="Use a non-empty string without braces: djqueue adds "
                    "the braces of the Redis Cluster hash tag itself.",
                    id="djqueue.E022",
                )
            )
        errors += inspect_timeout_errors(name, options)
        try:
            import redis  # noqa: F401
        except ImportError:
            errors.append(
                checks.Error(
                    f"Queue {name!r} uses RedisQueue, but redis-py is not installed.",
                    hint="pip install 'djqueue[redis]' (redis-py with hiredis).",
                    id="djqueue.E020",
                )
            )
        try:
            connection_kwargs(connection)
        except ValueError as exc:
            errors.append(
                checks.Error(
                    f"Queue {name!r} has a bad Redis CONNECTION: {exc}.",
                    hint="Use 'host:port:db', a redis://, rediss:// or unix:// URL, "
                    "or a dict of redis.Redis arguments.",
                    id="djqueue.E021",
                )
            )
        return errors

    # -- The client --------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self):
        kwargs = connection_kwargs(self.connection)
        factory = self.options.get("CLIENT_FACTORY")
        if factory is not None:
            if isinstance(factory, str):
                factory = import_string(factory)
            return factory(**kwargs)
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        # Named, so CLIENT LIST shows which connections are djqueue's.
        kwargs.setdefault("client_name", f"djqueue-{self.prefix}")
        kwargs.setdefault("socket_connect_timeout", 5)
        kwargs.setdefault("socket_timeout", 30)
        kwargs.setdefault("health_check_interval", 30)
        kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=1.0, base=0.05), 3))
        kwargs.setdefault("retry_on_error", [redis.ConnectionError, redis.TimeoutError])
        url = kwargs.pop("url", None)
        if url is not None:
            return redis.Redis.from_url(url, **kwargs)
        return redis.Redis(**kwargs)

    def close(self) -> None:
        self._close_inspection()
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
        self._scripts.clear()

    def _script(self, name: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(_SCRIPTS[name])
        return script

    def _run(self, name: str, *args: Any) -> Any:
        return self._script(name)(keys=[self.base], args=list(args))

    def _block_slice(self) -> float:
        """Seconds one blocking call may wait: under the socket timeout."""
        kwargs = getattr(self.client, "connection_pool", None)
        kwargs = getattr(kwargs, "connection_kwargs", {})
        socket_timeout = kwargs.get("socket_timeout")
        if not socket_timeout:
            return 10.0
        return max(0.1, min(10.0, socket_timeout - 1))

    def key(self, suffix: str) -> str:
        return f"{self.base}:{suffix}"

    # -- Writing -------------------------------------------------------------

    def write(self, message: Message) -> None:
        self.write_many((message,))

    def write_many(self, messages: Sequence[Message]) -> None:
        """Write in batches of ``WRITE_BATCH``, one call of the write script
        each, which places every message as :meth:`write` does."""
        now, stamps = self.now(), {}
        moment = stamp(now)
        for start in range(0, len(messages), WRITE_BATCH):
            values: list = [moment]
            for message in messages[start : start + WRITE_BATCH]:
                values += self._placed(message, now, stamps)
            self._run("write", *values)

    def write_tick(self, message: Message, name: str, tick) -> bool:
        now = self.now()
        values = self._placed(message, now, {})
        return bool(self._run("write_tick", name, stamp(tick), stamp(now), *values))

    def write_unique(self, message: Message) -> str:
        now = self.now()
        values = self._placed(message, now, {})
        return text(self._run("write_unique", stamp(now), *values))

    def _placed(self, message: Message, now, stamps) -> list:
        """The values of ``message`` for the scripts' ``place()``, which
        stores it scheduled if its eta is after ``now``, else queued; the
        message's ``queue`` and ``state`` are set to match."""
        message.queue = self.name
        message.state = State.SCHEDULED if message.eta > now else State.QUEUED
        return placed(message, stamps)

    def flush(self) -> None:
        keys = list(self.client.scan_iter(match=f"{self.base}:*", count=10_000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])

    def __len__(self) -> int:
        return self.client.zcard(self.key("ready"))

    # -- Leases --------------------------------------------------------------

    def claim(self, worker, lease_seconds, limit=1, now=None, timeout=0):
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
            pipe.evalsha(self._script("claim").sha, 1, self.base, *arguments)
            _, rows = pipe.execute(raise_on_error=False)
        if isinstance(rows, Exception):
            from redis.exceptions import NoScriptError

            if not isinstance(rows, NoScriptError):
                raise rows
            # The server lost its scripts (a restart): the claim loads it.
            return self._claim(worker, lease_seconds, limit, None)
        return [to_message(row, self.name) for row in rows]

    def wait_for_messages(self, timeout):
        if timeout <= 0:
            return False
        wait = min(timeout, self._block_slice())
        return self.client.blpop([self.key("notify")], timeout=wait) is not None

    def _claim(self, worker, lease_seconds, limit, now):
        now = now or self.now()
        rows = self._run(
            "claim", *self._claim_arguments(worker, lease_seconds, limit, now)
        )
        return [to_message(row, self.name) for row in rows]

    def claim_suspect(self, worker, lease_seconds, now=None):
        now = now or self.now()
        rows = self._run(
            "claim_suspect", *self._claim_arguments(worker, lease_seconds, 1, now)
        )
        return to_message(rows[0], self.name) if rows else None

    def has_suspects(self):
        ceiling = f"({SUSPECT_CEILING:.0f}"
        return self.client.zcount(self.key("ready"), "-inf", ceiling) > 0

    def _claim_arguments(self, worker, lease_seconds, limit, now) -> list:
        return [
            limit,
            stamp(self.expiry(now, lease_seconds)),
            uuid.uuid4().hex,
            worker,
            stamp(now),
            stamp(self.expiry(now, self.failed_ttl)),
        ]

    def ack(self, message, result=None, result_ttl=0, now=None):
        now = now or self.now()
        acked = self._ack_arguments(message, result, result_ttl, now)
        return bool(self._run("ack", stamp(now), *acked))

    def ack_many(self, acks, now=None):
        """One script call per ``ACK_BATCH`` acknowledgements, which runs
        :meth:`ack`'s for each in turn."""
        now, acks = now or self.now(), list(acks)
        moment, kept = stamp(now), []
        for start in range(0, len(acks), ACK_BATCH):
            values = [moment]
            for message, result, result_ttl in acks[start : start + ACK_BATCH]:
                values += self._ack_arguments(message, result, result_ttl, now)
            kept += [bool(done) for done in self._run("ack_many", *values)]
        return kept

    def _ack_arguments(self, message, result, result_ttl, now) -> list:
        """The values of one acknowledgement for the scripts' ``ack()``."""
        ttl_ms = math.ceil(result_ttl * 1000) if result_ttl else 0
        expires = self.expiry(now, result_ttl) if ttl_ms else None
        return [message.id, message.lease_token, result or "", ttl_ms, stamp(expires)]

    def ack_and_claim(
        self, message, result, result_ttl, worker, lease_seconds, now=None
    ):
        now = now or self.now()
        kept, rows = self._run(
            "ack_and_claim", stamp(now),
            *self._ack_arguments(message, result, result_ttl, now),
            *self._claim_arguments(worker, lease_seconds, 1, now),
        )  # fmt: skip
        return bool(kept), [to_message(row, self.name) for row in rows]

    def fail(self, message, error, traceback="", now=None):
        now = now or self.now()
        return bool(
            self._run(
                "fail", message.id, message.lease_token, error, traceback,
                stamp(now), stamp(self.expiry(now, self.failed_ttl)),
                attempt_errors(message),
            )
        )  # fmt: skip

    def retry_later(self, message, eta, error="", traceback="", now=None):
        now = now or self.now()
        return bool(
            self._run(
                "retry_later", message.id, message.lease_token, stamp(eta),
                error, traceback, stamp(now), attempt_errors(message),
            )
        )  # fmt: skip

    def release(self, messages: Iterable[Message]) -> int:
        pairs = [value for m in messages for value in (m.id, m.lease_token)]
        return self._run("release", *pairs) if pairs else 0

    def extend(self, messages, lease_seconds, now=None):
        pairs = [value for m in messages for value in (m.id, m.lease_token)]
        if not pairs:
            return 0
        lease = stamp(self.expiry(now or self.now(), lease_seconds))
        return self._run("extend", lease, *pairs)

    def promote_due(self, now=None):
        now = now or self.now()
        return self._run(
            "promote_due", stamp(now), stamp(self.expiry(now, self.failed_ttl))
        )

    def reclaim_expired(self, now=None):
        now = now or self.now()
        return self._run(
            "reclaim_expired",
            stamp(now),
            stamp(self.expiry(now, self.failed_ttl)),
            WORKER_LOST,
        )

    def purge_expired(self, now=None):
        moment, purged = stamp(now or self.now()), 0
        while (batch := self._run("purge_expired", moment)) > 0:
            purged += batch
            if batch < 1000:
                break
        return purged

    # -- Results and inspection ----------------------------------------------

    def get(self, message_id):
        fields = self.client.hgetall(self.key(f"m:{message_id}"))
        return to_message(fields, self.name, text(message_id)) if fields else None

    def wait(self, message_id, timeout):
        message = self.get(message_id)
        if message is None or message.state in _FINISHED or timeout == 0:
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
            if message is None or message.state in _FINISHED:
                return message

    def counts(self):
        pipe = self.client.pipeline(transaction=False)
        for state in State:
            pipe.zcard(self.key(_SET_OF_STATE[state]))
        return dict(zip(State, pipe.execute(), strict=True))

    def list_messages(self, state, offset=0, limit=50, command=None):
        newest_first = state in _NEWEST_FIRST
        if command is None:
            ids = self.client.zrange(
                self.key(_SET_OF_STATE[state]),
                offset,
                offset + limit - 1,
                desc=newest_first,
            )
        else:
            pairs, _, _ = self._scan_ids(
                _SET_OF_STATE[state], newest_first, None, offset, limit,
                {"command": command},
            )  # fmt: skip
            ids = [message_id for message_id, _ in pairs]
        return self._load(ids)

    def scan_messages(self, state, cursor="", limit=50, command=None):
        match = {} if command is None else {"command": command}
        return self._scan_messages(
            _SET_OF_STATE[state], state in _NEWEST_FIRST, cursor, limit, match
        )

    def _load(self, ids) -> list[Message]:
        """The messages of ``ids`` that are still stored, in one pipeline."""
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self.key(f"m:{text(message_id)}"))
        return [
            to_message(fields, self.name, text(message_id))
            for message_id, fields in zip(ids, pipe.execute(), strict=True)
            if fields
        ]

    def retry(self, message_id, now=None):
        return bool(self._run("retry", message_id, stamp(now or self.now())))

    def cancel(self, message_id, now=None):
        now = now or self.now()
        return bool(
            self._run(
                "cancel",
                message_id,
                stamp(now),
                stamp(self.expiry(now, self.failed_ttl)),
            )
        )

    def delete(self, message_id):
        return bool(self._run("delete", message_id))

    def purge(self, state):
        return self._run("purge", _SET_OF_STATE[State(state)])
