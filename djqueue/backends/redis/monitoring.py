"""The monitoring part of :class:`~djqueue.backends.redis.RedisQueue`: the
consumers serving a queue, its run statistics and its periodic ticks.

Keys, under the queue's base: ``:consumers`` a hash of consumer id to its
JSON details and ``:consumers:alive`` a sorted set of consumer ids by the
moment they stop counting as alive; ``:runs:<minute>`` a hash per minute
(epoch seconds of its start) of ``done:<command>`` and ``failed:<command>``
counters, expiring after the retention, and ``:runs:total`` the same since
statistics began, with ``seconds:<command>``, the seconds those runs took;
``:ticks`` a hash of periodic command name to last tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ...states import State
from ..inspection import THROUGHPUT_RETENTION, ConsumerInfo, Throughput, minute_of
from .hashes import integer, moment, stamp, text
from .part import RedisPart


class RedisMonitoring(RedisPart):
    """Mixed into ``RedisQueue``; relies on its ``client``, ``key``,
    ``_run``, ``expiry`` and ``now``."""

    # -- Consumers -----------------------------------------------------------------

    def register_consumer(
        self, info: ConsumerInfo, ttl: float, now: datetime | None = None
    ) -> None:
        now = now or self.now()
        self._run(
            "register_consumer",
            info.id,
            info.to_json(),
            stamp(self.expiry(now, ttl)),
            stamp(now),
        )

    def unregister_consumer(self, consumer_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.key("consumers"), consumer_id)
        pipe.zrem(self.key("consumers:alive"), consumer_id)
        pipe.execute()

    def consumers(self, now: datetime | None = None) -> list[ConsumerInfo]:
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

    def record_runs(
        self,
        counts: Mapping[tuple[str, State], int],
        now: datetime | None = None,
        seconds: Mapping[tuple[str, State], float] | None = None,
    ) -> None:
        minute_key = self.key(f"runs:{_epoch(minute_of(now or self.now()))}")
        pipe = self.client.pipeline(transaction=True)
        for (command, state), number in counts.items():
            if number:
                field = f"{'done' if state == State.DONE else 'failed'}:{command}"
                pipe.hincrby(minute_key, field, number)
                pipe.hincrby(self.key("runs:total"), field, number)
                took = (seconds or {}).get((command, state))
                if took:
                    pipe.hincrbyfloat(
                        self.key("runs:total"), f"seconds:{command}", took
                    )
        if len(pipe):
            pipe.expire(minute_key, int(THROUGHPUT_RETENTION.total_seconds()) + 60)
            pipe.execute()

    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
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

    def command_totals(self) -> dict[str, tuple[int, int]]:
        totals: dict[str, list[int]] = {}
        for field, value in self.client.hgetall(self.key("runs:total")).items():
            outcome, _, command = text(field).partition(":")
            if outcome in ("done", "failed") and command:
                slot = 0 if outcome == "done" else 1
                totals.setdefault(command, [0, 0])[slot] += integer(text(value))
        return {command: (done, failed) for command, (done, failed) in totals.items()}

    def command_seconds(self) -> dict[str, float]:
        found = {}
        for field, value in self.client.hgetall(self.key("runs:total")).items():
            kind, _, command = text(field).partition(":")
            if kind == "seconds" and command:
                try:
                    found[command] = float(text(value))
                except ValueError:
                    continue
        return found

    def last_ticks(self) -> dict[str, datetime]:
        ticks = {}
        for name, stored in self.client.hgetall(self.key("ticks")).items():
            tick = moment(text(stored))
            if tick is not None:
                ticks[text(name)] = tick
        return ticks


def _epoch(minute: datetime) -> int:
    return int(minute.timestamp())


def _sum_counters(fields: dict[Any, Any]) -> tuple[int, int]:
    done = failed = 0
    for field, value in fields.items():
        outcome = text(field).partition(":")[0]
        if outcome == "done":
            done += integer(text(value))
        elif outcome == "failed":
            failed += integer(text(value))
    return done, failed
