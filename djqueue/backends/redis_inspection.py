# ruff: noqa: E501 - Lua source lines
"""The operator-facing part of :class:`~djqueue.backends.redis.RedisQueue`:
its bounded twin for inspection, scheduled messages made ready by hand, the
consumers serving a queue and its run statistics. Each call costs one or two
round trips (filtered pages are in :mod:`djqueue.backends.redis_scan`).

Keys, under the queue's base: ``:consumers`` a hash of consumer id to its
JSON details and ``:consumers:alive`` a sorted set of consumer ids by the
moment they stop counting as alive; ``:runs:<minute>`` a hash per minute
(epoch seconds of its start) of ``done:<command>`` and ``failed:<command>``
counters, expiring after the retention, and ``:runs:total`` the same since
statistics began; ``:ticks`` a hash of periodic command name to last tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import checks

from ..inspection import THROUGHPUT_RETENTION, ConsumerInfo, Throughput, minute_of
from ..states import State
from .redis_hash import stamp, text
from .redis_scan import SCAN_IDS
from .redis_scripts import COMMON

#: Seconds an inspection read waits for the server by default.
DEFAULT_INSPECT_TIMEOUT = 2.0

# ARGV: id, now.
RUN_NOW = """
local id, key = ARGV[1], mkey(ARGV[1])
if redis.call('TYPE', key)['ok'] ~= 'hash' then return 0 end
if redis.call('HGET', key, 'state') ~= 'scheduled' then return 0 end
redis.call('ZREM', base .. ':scheduled', id)
redis.call('HSET', key, 'state', 'queued', 'eta', ARGV[2])
redis.call('ZADD', base .. ':ready', score(key), id)
wake_consumers(1)
return 1
"""

# The ready set is ordered by priority, then eta: the head of each priority
# band is that band's longest-waiting message. Bands are 4e13 apart.
OLDEST_QUEUED = """
local ready, floor, oldest, oldest_text = base .. ':ready', '-inf', nil, false
for _ = 1, 202 do
  local head = redis.call('ZRANGEBYSCORE', ready, floor, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #head == 0 then break end
  local eta = redis.pcall('HGET', mkey(head[1]), 'eta')
  local value = type(eta) == 'string' and tonumber(eta)
  if value and (oldest == nil or value < oldest) then oldest, oldest_text = value, eta end
  floor = tostring((math.floor(tonumber(head[2]) / 4e13) + 1) * 4e13)
end
return oldest_text
"""

# ARGV: consumer id, details, alive until, now.
REGISTER_CONSUMER = """
local details, alive = base .. ':consumers', base .. ':consumers:alive'
redis.call('HSET', details, ARGV[1], ARGV[2])
redis.call('ZADD', alive, ARGV[3], ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', ARGV[4], 'LIMIT', 0, 100)) do
  redis.call('HDEL', details, id)
  redis.call('ZREM', alive, id)
end
return 1
"""

# ARGV: now.
CONSUMERS = """
local ids = redis.call('ZRANGEBYSCORE', base .. ':consumers:alive', '(' .. ARGV[1], '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', base .. ':consumers', unpack(ids))
"""

INSPECTION_SCRIPTS = {
    name.lower(): COMMON + body
    for name, body in {
        "RUN_NOW": RUN_NOW,
        "OLDEST_QUEUED": OLDEST_QUEUED,
        "REGISTER_CONSUMER": REGISTER_CONSUMER,
        "CONSUMERS": CONSUMERS,
        "SCAN_IDS": SCAN_IDS,
    }.items()
}


def inspect_timeout_errors(name: str, options: dict) -> list[checks.CheckMessage]:
    """The system check of the ``INSPECT_TIMEOUT`` option (``djqueue.E023``)."""
    timeout = options.get("INSPECT_TIMEOUT", DEFAULT_INSPECT_TIMEOUT)
    if (
        not isinstance(timeout, bool)
        and isinstance(timeout, (int, float))
        and 0 < timeout <= 60
    ):
        return []
    return [
        checks.Error(
            f"Queue {name!r} has OPTIONS['INSPECT_TIMEOUT'] = {timeout!r}.",
            hint="Use a number of seconds above 0 and at most 60.",
            id="djqueue.E023",
        )
    ]


class RedisInspection:
    """Mixed into ``RedisQueue``; relies on its ``client``, ``key``,
    ``_run`` (which finds these scripts too), ``expiry`` and ``now``."""

    _inspection_twin = None

    def for_inspection(self):
        """Return a twin of this queue whose client waits at most
        ``INSPECT_TIMEOUT`` seconds to connect and for each reply, and
        retries nothing; a queue given a ready ``CLIENT`` is its own twin."""
        if not self._owns_client:
            return self
        if self._inspection_twin is None:
            self._inspection_twin = self._bounded_twin()
        return self._inspection_twin

    def _bounded_twin(self):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from .redis import connection_kwargs

        timeout = self.inspect_timeout
        bounds = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        connection = {**connection_kwargs(self.connection), **bounds}
        twin = type(self)(self.name, connection, **self.options)
        # A URL's query string wins over keyword arguments in redis-py.
        pool = getattr(twin.client, "connection_pool", None)
        pool_kwargs = getattr(pool, "connection_kwargs", None)
        if isinstance(pool_kwargs, dict):
            pool_kwargs.update(bounds)
        return twin

    def _close_inspection(self):
        if self._inspection_twin is not None:
            self._inspection_twin.close()
            self._inspection_twin = None

    def run_now(self, message_id, now=None):
        return bool(self._run("run_now", message_id, stamp(now or self.now())))

    def oldest_queued_at(self):
        eta = self._run("oldest_queued")
        return _moment(eta) if eta else None

    # -- Consumers -----------------------------------------------------------------

    def register_consumer(self, info, ttl, now=None):
        now = now or self.now()
        self._run(
            "register_consumer", info.id, info.to_json(),
            stamp(self.expiry(now, ttl)), stamp(now),
        )  # fmt: skip

    def unregister_consumer(self, consumer_id):
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.key("consumers"), consumer_id)
        pipe.zrem(self.key("consumers:alive"), consumer_id)
        pipe.execute()

    def consumers(self, now=None):
        found = []
        for stored in self._run("consumers", stamp(now or self.now())):
            if stored is None:
                continue
            try:
                found.append(ConsumerInfo.from_json(stored))
            except ValueError:
                continue
        return sorted(found, key=lambda info: info.started_at, reverse=True)

    # -- Statistics ----------------------------------------------------------------

    def record_runs(self, counts, now=None):
        minute_key = self.key(f"runs:{_epoch(minute_of(now or self.now()))}")
        pipe = self.client.pipeline(transaction=True)
        for (command, state), number in counts.items():
            if number:
                field = f"{'done' if state == State.DONE else 'failed'}:{command}"
                pipe.hincrby(minute_key, field, number)
                pipe.hincrby(self.key("runs:total"), field, number)
        if len(pipe):
            pipe.expire(minute_key, int(THROUGHPUT_RETENTION.total_seconds()) + 60)
            pipe.execute()

    def throughput(self, since, now=None):
        first, last = minute_of(since), minute_of(now or self.now())
        minutes = []
        while first <= last:
            minutes.append(first)
            first += timedelta(minutes=1)
        pipe = self.client.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(self.key(f"runs:{_epoch(minute)}"))
        found = []
        for minute, fields in zip(
            minutes, pipe.execute() if minutes else [], strict=True
        ):
            done, failed = _sum_counters(fields)
            if done or failed:
                found.append(Throughput(minute, done, failed))
        return found

    def command_totals(self):
        totals: dict[str, list[int]] = {}
        for field, value in self.client.hgetall(self.key("runs:total")).items():
            outcome, _, command = text(field).partition(":")
            if outcome in ("done", "failed") and command:
                slot = 0 if outcome == "done" else 1
                totals.setdefault(command, [0, 0])[slot] += _integer(value)
        return {command: (done, failed) for command, (done, failed) in totals.items()}

    def last_ticks(self):
        ticks = {}
        for name, stored in self.client.hgetall(self.key("ticks")).items():
            try:
                ticks[text(name)] = _moment(stored)
            except ValueError:
                continue
        return ticks


def _epoch(minute: datetime) -> int:
    return int(minute.timestamp())


def _moment(value: Any) -> datetime:
    return datetime.fromtimestamp(float(text(value)), tz=UTC)


def _integer(value: Any) -> int:
    try:
        return int(text(value))
    except ValueError:
        return 0


def _sum_counters(fields: dict) -> tuple[int, int]:
    done = failed = 0
    for field, value in fields.items():
        outcome = text(field).partition(":")[0]
        if outcome == "done":
            done += _integer(value)
        elif outcome == "failed":
            failed += _integer(value)
    return done, failed
