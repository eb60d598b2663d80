"""``RedisQueue``: messages in Redis (or Valkey), moved by Lua scripts.

redis-py is imported when the first queue is built, never at module import,
so this module imports without it; ``manage.py check`` reports it missing.
Each message is a hash; ids move between sorted sets by atomic scripts (see
:mod:`djqueue.backends.redis_scripts`). A consumer waiting on an empty queue
blocks on the server and wakes as soon as a message is written.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core import checks
from django.utils.module_loading import import_string

from ..message import Message
from ..states import State
from .base import BaseQueue
from .redis_scripts import SCRIPTS

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_SET_OF_STATE = {
    State.QUEUED: "ready",
    State.SCHEDULED: "scheduled",
    State.RUNNING: "running",
    State.DONE: "done",
    State.FAILED: "failed",
    State.CANCELLED: "cancelled",
}
_NEWEST_FIRST = {State.DONE, State.FAILED, State.CANCELLED}
_DATETIMES = (
    "eta", "enqueued_at", "lease_expires_at", "started_at", "finished_at", "expires_at",
)  # fmt: skip
WORKER_LOST = (
    "worker lost: the lease expired while the message ran, on its last attempt "
    "(the worker was killed or hung)"
)


def connection_kwargs(connection: Any) -> dict[str, Any]:
    """Turn the ``CONNECTION`` setting into keyword arguments for redis-py.

    Accept ``""`` (the local default), the ``djutils.queue`` form
    ``"host:port:db"``, a ``redis://``, ``rediss://`` or ``unix://`` URL, or
    a dict of ``redis.Redis`` arguments (host, port, db, password, ssl,
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
        return {
            "host": host or "127.0.0.1",
            "port": int(port or 6379),
            "db": int(db or 0),
        }
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a URL nor of the form 'host:port:db'"
        ) from None


#: Ready-set scores count tenths of a millisecond from 2020-01-01 within
#: bands of 4e13 per priority: exact in a double for priorities -100 to 100
#: until 2146. Equal scores fall back to the time-ordered message id.
SCORE_EPOCH = 1577836800


def score(priority: int, eta: datetime) -> float:
    """The ready set's score: higher priority first, then earlier eta."""
    return -priority * 4e13 + math.floor((float(_stamp(eta)) - SCORE_EPOCH) * 10000)


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.timestamp():.6f}"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


class RedisQueue(BaseQueue):
    """A queue stored in Redis or Valkey under the key base ``{prefix:name}``.

    Options: ``PREFIX`` (default ``"djqueue"``), ``CLIENT`` (a ready redis-py
    client, for tests), ``CLIENT_FACTORY`` (a callable or dotted path called
    with the connection's keyword arguments), ``FAILED_TTL``, and
    ``ON_COMMIT`` (default True: inside ``transaction.atomic()`` the write
    waits for the commit).
    """

    supports_transactions = False
    supports_blocking_claim = True

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        super().__init__(name, connection, **options)
        self.prefix = options.get("PREFIX", "djqueue")
        self.base = f"{{{self.prefix}:{name}}}"
        self._client = options.get("CLIENT")
        self._owns_client = self._client is None
        self._scripts: dict[str, Any] = {}

    @classmethod
    def check_config(cls, name, connection, options):
        errors = []
        try:
            import redis  # noqa: F401
        except ImportError:
            errors.append(
                checks.Error(
                    f"Queue {name!r} uses RedisQueue, but redis-py is not installed.",
                    hint="pip install 'djqueue[redis]' (add 'hiredis' for speed).",
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
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
        self._scripts.clear()

    def _run(self, name: str, *args: Any) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client.register_script(SCRIPTS[name])
        return script(keys=[self.base], args=list(args))

    def key(self, suffix: str) -> str:
        return f"{self.base}:{suffix}"

    # -- Writing -------------------------------------------------------------

    def write(self, message: Message) -> None:
        self.write_many([message])

    def write_many(self, messages: Sequence[Message]) -> None:
        now = self.now()
        pipe = self.client.pipeline(transaction=True)
        ready = 0
        for message in messages:
            message.queue = self.name
            scheduled = message.eta > now
            message.state = State.SCHEDULED if scheduled else State.QUEUED
            pipe.hset(self.key(f"m:{message.id}"), mapping=self._fields(message))
            if scheduled:
                pipe.zadd(self.key("scheduled"), {message.id: message.eta.timestamp()})
            else:
                pipe.zadd(
                    self.key("ready"),
                    {message.id: score(message.priority, message.eta)},
                )
                ready += 1
        if ready:
            pipe.lpush(self.key("notify"), *["1"] * min(ready, 100))
            pipe.ltrim(self.key("notify"), 0, 99)
        pipe.execute()

    @staticmethod
    def _fields(message: Message) -> dict[str, str | int]:
        return {
            "id": message.id,
            "command": message.command,
            "queue": message.queue,
            "payload": message.payload,
            "signature": message.signature,
            "serializer": message.serializer,
            "eta": _stamp(message.eta),
            "enqueued_at": _stamp(message.enqueued_at),
            "priority": message.priority,
            "attempts": message.attempts,
            "max_attempts": message.max_attempts,
            "options": json.dumps(message.options, separators=(",", ":")),
            "state": message.state.value,
        }

    def flush(self) -> None:
        keys = list(self.client.scan_iter(match=f"{self.base}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])

    def __len__(self) -> int:
        return self.client.zcard(self.key("ready"))

    # -- Leases --------------------------------------------------------------

    def claim(self, worker, lease_seconds, limit=1, now=None, timeout=0):
        messages = self._claim(worker, lease_seconds, limit, now)
        if messages or timeout <= 0:
            return messages
        if self.client.blpop([self.key("notify")], timeout=timeout) is None:
            return []
        return self._claim(worker, lease_seconds, limit, now)

    def _claim(self, worker, lease_seconds, limit, now):
        now = now or self.now()
        rows = self._run(
            "claim",
            limit,
            _stamp(self.expiry(now, lease_seconds)),
            uuid.uuid4().hex,
            worker,
            _stamp(now),
            _stamp(self.expiry(now, self.failed_ttl)),
        )
        return [self._to_message(row) for row in rows]

    def ack(self, message, result=None, result_ttl=0, now=None):
        now = now or self.now()
        ttl_ms = math.ceil(result_ttl * 1000) if result_ttl else 0
        return bool(
            self._run(
                "ack", message.id, message.lease_token, result or "", ttl_ms,
                _stamp(now), _stamp(self.expiry(now, result_ttl) if ttl_ms else None),
            )
        )  # fmt: skip

    def fail(self, message, error, traceback="", now=None):
        now = now or self.now()
        return bool(
            self._run(
                "fail", message.id, message.lease_token, error, traceback,
                _stamp(now), _stamp(self.expiry(now, self.failed_ttl)),
            )
        )  # fmt: skip

    def retry_later(self, message, eta, error="", traceback="", now=None):
        now = now or self.now()
        return bool(
            self._run(
                "retry_later", message.id, message.lease_token, _stamp(eta),
                error, traceback, _stamp(now),
            )
        )  # fmt: skip

    def release(self, messages: Iterable[Message]) -> int:
        pairs = [value for m in messages for value in (m.id, m.lease_token)]
        return self._run("release", *pairs) if pairs else 0

    def extend(self, messages, lease_seconds, now=None):
        pairs = [value for m in messages for value in (m.id, m.lease_token)]
        if not pairs:
            return 0
        lease = _stamp(self.expiry(now or self.now(), lease_seconds))
        return self._run("extend", lease, *pairs)

    def promote_due(self, now=None):
        now = now or self.now()
        return self._run(
            "promote_due", _stamp(now), _stamp(self.expiry(now, self.failed_ttl))
        )

    def reclaim_expired(self, now=None):
        now = now or self.now()
        return self._run(
            "reclaim_expired",
            _stamp(now),
            _stamp(self.expiry(now, self.failed_ttl)),
            WORKER_LOST,
        )

    def purge_expired(self, now=None):
        stamp, purged = _stamp(now or self.now()), 0
        while (batch := self._run("purge_expired", stamp)) > 0:
            purged += batch
            if batch < 1000:
                break
        return purged

    # -- Results and inspection ----------------------------------------------

    def get(self, message_id):
        fields = self.client.hgetall(self.key(f"m:{message_id}"))
        return self._to_message(fields) if fields else None

    def wait(self, message_id, timeout):
        message = self.get(message_id)
        if message is None or message.state in _FINISHED or timeout == 0:
            return message
        waiters = self.key(f"w:{message_id}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = 10.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return message
            # Rotating the list in place lets every waiter see the one token.
            self.client.blmove(waiters, waiters, min(remaining, 10.0))
            message = self.get(message_id)
            if message is None or message.state in _FINISHED:
                return message

    def counts(self):
        pipe = self.client.pipeline(transaction=False)
        for state in State:
            pipe.zcard(self.key(_SET_OF_STATE[state]))
        return dict(zip(State, pipe.execute(), strict=True))

    def list_messages(self, state, offset=0, limit=50):
        ids = self.client.zrange(
            self.key(_SET_OF_STATE[state]),
            offset,
            offset + limit - 1,
            desc=state in _NEWEST_FIRST,
        )
        pipe = self.client.pipeline(transaction=False)
        for message_id in ids:
            pipe.hgetall(self.key(f"m:{_text(message_id)}"))
        return [self._to_message(fields) for fields in pipe.execute() if fields]

    def retry(self, message_id, now=None):
        return bool(self._run("retry", message_id, _stamp(now or self.now())))

    def cancel(self, message_id, now=None):
        now = now or self.now()
        return bool(
            self._run(
                "cancel",
                message_id,
                _stamp(now),
                _stamp(self.expiry(now, self.failed_ttl)),
            )
        )

    def delete(self, message_id):
        return bool(self._run("delete", message_id))

    def purge(self, state):
        return self._run("purge", _SET_OF_STATE[State(state)])

    # -- Decoding ------------------------------------------------------------

    def _to_message(self, fields: Any) -> Message:
        """Build a Message from a hash, tolerating garbage: whatever cannot be
        read becomes a default, and the consumer fails the message with a
        reason when its payload does not verify."""
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=False))
        data = {_text(k): _text(v) for k, v in fields.items()}
        moments = {name: _moment(data.get(name, "")) for name in _DATETIMES}
        epoch = datetime.fromtimestamp(0, UTC)
        try:
            state = State(data.get("state", ""))
        except ValueError:
            state = State.QUEUED
        return Message(
            id=data.get("id", ""),
            command=data.get("command", ""),
            queue=self.name,
            payload=data.get("payload", ""),
            signature=data.get("signature", ""),
            serializer=data.get("serializer", ""),
            eta=moments["eta"] or epoch,
            enqueued_at=moments["enqueued_at"] or epoch,
            priority=_int(data.get("priority")),
            attempts=_int(data.get("attempts")),
            max_attempts=_int(data.get("max_attempts"), 1),
            options=_options(data.get("options", "")),
            state=state,
            lease_token=data.get("lease_token", ""),
            lease_expires_at=moments["lease_expires_at"],
            worker=data.get("worker", ""),
            started_at=moments["started_at"],
            finished_at=moments["finished_at"],
            result=data.get("result") or None,
            error=data.get("error", ""),
            traceback=data.get("traceback", ""),
            expires_at=moments["expires_at"],
        )


_FINISHED = frozenset({State.DONE, State.FAILED, State.CANCELLED})


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), UTC) if text else None
    except (ValueError, OverflowError, OSError):
        return None


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _options(text: str) -> dict[str, Any]:
    try:
        options = json.loads(text) if text else {}
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}
