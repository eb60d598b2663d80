"""The monitoring part of :class:`~djqueue.backends.memory.MemoryQueue`:
the consumers serving a queue, its run statistics, its periodic ticks and
its pause, kept in its store beside the messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from ...envelope.message import Message
from ...states import State
from ..pausing import Pause, check_pause
from ..records import THROUGHPUT_RETENTION, ConsumerInfo, Throughput, minute_of
from .part import MemoryPart


class MemoryMonitoring(MemoryPart):
    """Mixed into ``MemoryQueue``; relies on its ``store``."""

    # -- Consumers -----------------------------------------------------------------

    def register_consumer(
        self, info: ConsumerInfo, ttl: float, now: datetime | None = None
    ) -> None:
        now = now or self.now()
        alive_until = self.expiry(now, ttl)
        assert alive_until is not None  # a ttl of seconds gives a moment
        with self.store.lock:
            self.store.consumers[info.id] = (info, alive_until)
            self._forget_dead_consumers(now)

    def unregister_consumer(self, consumer_id: str) -> None:
        with self.store.lock:
            self.store.consumers.pop(consumer_id, None)

    def consumers(self, now: datetime | None = None) -> list[ConsumerInfo]:
        now = now or self.now()
        with self.store.lock:
            alive = [
                info for info, until in self.store.consumers.values() if until > now
            ]
        return sorted(alive, key=lambda info: info.started_at, reverse=True)

    def _forget_dead_consumers(self, now: datetime) -> None:
        """Drop the consumers no longer alive at ``now``; lock held."""
        consumers = self.store.consumers
        for consumer_id in [i for i, (_, until) in consumers.items() if until <= now]:
            del consumers[consumer_id]

    # -- Statistics ----------------------------------------------------------------

    def record_runs(
        self,
        counts: Mapping[tuple[str, State], int],
        now: datetime | None = None,
        seconds: Mapping[tuple[str, State], float] | None = None,
    ) -> None:
        minute = minute_of(now or self.now())
        store = self.store
        with store.lock:
            for (command, state), number in counts.items():
                if not number:
                    continue
                outcome = State.DONE if state == State.DONE else State.FAILED
                store.minutes.setdefault(minute, Counter())[(command, outcome)] += (
                    number
                )
                store.totals[(command, outcome)] += number
                took = (seconds or {}).get((command, state))
                if took:
                    store.seconds[command] = store.seconds.get(command, 0.0) + took

    def throughput(
        self, since: datetime, now: datetime | None = None
    ) -> list[Throughput]:
        first, last = minute_of(since), minute_of(now or self.now())
        found = []
        with self.store.lock:
            for minute, runs in sorted(self.store.minutes.items()):
                if first <= minute <= last:
                    done = sum(n for (_, s), n in runs.items() if s == State.DONE)
                    failed = sum(n for (_, s), n in runs.items() if s != State.DONE)
                    if done or failed:
                        found.append(Throughput(minute, done, failed))
        return found

    def command_totals(self) -> dict[str, tuple[int, int]]:
        totals: dict[str, tuple[int, int]] = {}
        with self.store.lock:
            for (command, state), number in self.store.totals.items():
                done, failed = totals.get(command, (0, 0))
                if state == State.DONE:
                    totals[command] = (done + number, failed)
                else:
                    totals[command] = (done, failed + number)
        return totals

    def command_seconds(self) -> dict[str, float]:
        with self.store.lock:
            return dict(self.store.seconds)

    def _forget_old_statistics(self, now: datetime) -> None:
        """Drop the minutes older than the retention; lock held."""
        oldest = minute_of(now - THROUGHPUT_RETENTION)
        minutes = self.store.minutes
        for minute in [m for m in minutes if m < oldest]:
            del minutes[minute]

    # -- Periodic ticks ------------------------------------------------------------

    def write_tick(self, message: Message, name: str, tick: datetime) -> bool:
        now = self.now()
        store = self.store
        with store.lock:
            last = store.ticks.get(name)
            if last is not None and last >= tick:
                return False
            store.ticks[name] = tick
            store.write(message, self.name, now)
            return True

    def last_ticks(self) -> dict[str, datetime]:
        with self.store.lock:
            return dict(self.store.ticks)

    # -- Pause ---------------------------------------------------------------------

    def pause(self, by: str, reason: str = "", now: datetime | None = None) -> Pause:
        check_pause(by, reason)
        with self.store.lock:
            if self.store.pause is None:
                self.store.pause = Pause(by=by, since=now or self.now(), reason=reason)
            return self.store.pause

    def resume(self) -> Pause | None:
        with self.store.lock:
            pause, self.store.pause = self.store.pause, None
            return pause

    def pause_state(self) -> Pause | None:
        with self.store.lock:
            return self.store.pause
