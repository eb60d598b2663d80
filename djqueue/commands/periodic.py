"""Periodic commands: run on a fixed interval or a cron expression.

There is no scheduler process: every consumer looks at the schedules of the
queues it consumes, and the first to write a tick wins. The backend claims
each tick atomically
(:meth:`~djqueue.backends.ticks.PeriodicTicks.write_tick`), so a tick runs
once however many consumers are up.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload
from zoneinfo import ZoneInfo

from ..exceptions import InvalidOption
from .command import QueueCommand, queue_command
from .options import CommandArguments

if TYPE_CHECKING:
    from ..backends.base import BaseQueue

R = TypeVar("R")

logger = logging.getLogger("djqueue.periodic")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When a periodic command runs: ``every`` interval or ``cron`` fields.

    Intervals count from the Unix epoch, so ``every=timedelta(minutes=5)``
    ticks at :00, :05, … on every host. Cron expressions are evaluated in
    ``timezone`` (a name or tzinfo; default: the ``TIME_ZONE`` setting).
    ``catch_up`` runs the latest tick missed while no consumer ran, once;
    otherwise it is skipped.
    """

    every: timedelta | None = None
    cron: str | None = None
    timezone: str | tzinfo | None = None
    catch_up: bool = False

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise TypeError(
                "A periodic command needs either every=... or cron=..., not both."
            )
        if self.every is not None and (
            not isinstance(self.every, timedelta) or self.every < timedelta(seconds=1)
        ):
            raise ValueError("every must be a timedelta of at least one second.")
        if self.cron is not None:
            try:
                _croniter()(self.cron)
            except (ValueError, KeyError) as exc:
                raise ValueError(
                    f"{self.cron!r} is not a cron expression: {exc}"
                ) from None
        self.zone  # noqa: B018 - raises for an unknown time zone name

    @property
    def zone(self) -> tzinfo:
        if isinstance(self.timezone, tzinfo):
            return self.timezone
        if self.timezone:
            return ZoneInfo(self.timezone)
        from django.utils import timezone

        return timezone.get_default_timezone()

    def latest(self, now: datetime) -> datetime:
        """Return the latest tick at or before ``now``."""
        if self.every is not None:
            return now - (now - _EPOCH) % self.every
        base = now.astimezone(self.zone) + _TICK
        tick: datetime = _croniter()(self.cron, base).get_prev(datetime)
        return tick.astimezone(UTC)

    def next(self, now: datetime) -> datetime:
        """Return the first tick after ``now``."""
        if self.every is not None:
            return self.latest(now) + self.every
        base = now.astimezone(self.zone)
        tick: datetime = _croniter()(self.cron, base).get_next(datetime)
        return tick.astimezone(UTC)

    def __str__(self) -> str:
        if self.every is not None:
            return f"every {self.every}"
        return f"cron {self.cron!r} ({self.zone})"


def _croniter() -> Any:
    try:
        from croniter import croniter
    except ImportError:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Cron schedules need the croniter package: pip install 'djqueue[cron]'."
        ) from None
    return croniter


@dataclasses.dataclass(frozen=True)
class Periodic:
    command: QueueCommand[[], Any]
    schedule: Schedule


_periodic: dict[str, Periodic] = {}


@overload
def periodic_command(
    func: Callable[[], R],
    /,
    *,
    every: timedelta | None = ...,
    cron: str | None = ...,
    timezone: str | tzinfo | None = ...,
    catch_up: bool = ...,
    **options: Unpack[CommandArguments],
) -> QueueCommand[[], R]: ...
@overload
def periodic_command(
    *,
    every: timedelta | None = ...,
    cron: str | None = ...,
    timezone: str | tzinfo | None = ...,
    catch_up: bool = ...,
    **options: Unpack[CommandArguments],
) -> Callable[[Callable[[], R]], QueueCommand[[], R]]: ...
def periodic_command(
    func: Callable[[], R] | None = None,
    /,
    *,
    every: timedelta | None = None,
    cron: str | None = None,
    timezone: str | tzinfo | None = None,
    catch_up: bool = False,
    **options: Any,
) -> QueueCommand[[], R] | Callable[[Callable[[], R]], QueueCommand[[], R]]:
    """Register a function that takes no arguments as a periodic command.

    ``@periodic_command(every=timedelta(minutes=5))`` or
    ``@periodic_command(cron="0 3 * * *", timezone="Europe/Paris")``; other
    keyword arguments are those of :func:`queue_command`. Calling it still
    enqueues a run at once.
    """
    schedule = Schedule(every=every, cron=cron, timezone=timezone, catch_up=catch_up)
    if isinstance(options.get("expires"), datetime):
        raise InvalidOption(
            "expires of a periodic command must be seconds or a timedelta, "
            "counted from each tick: a moment would pass for every later tick."
        )

    def decorate(function: Callable[[], R]) -> QueueCommand[[], R]:
        command = queue_command(**options)(function)
        try:
            command.signature.bind()
        except TypeError:
            raise TypeError(
                f"Periodic command {command.name} cannot take required arguments."
            ) from None
        _periodic[command.name] = Periodic(command, schedule)
        return command

    return decorate(func) if func is not None else decorate


def periodic_commands() -> Iterator[Periodic]:
    """Every registered periodic command, by name."""
    return iter(sorted(_periodic.values(), key=lambda p: p.command.name))


class PeriodicTicker:
    """Write the due ticks of the periodic commands on ``queues``.

    Called by a consumer every half second; remembers the tick it last
    handled for each command, so the backend is asked once per tick.
    Without ``catch_up``, a tick older than this ticker is skipped: it was
    missed while no consumer ran. A queue whose backend does not support
    periodic ticks (``supports_periodic``) gets none; its periodic commands
    are logged once (``manage.py check`` reports them, ``djqueue.E012``).
    """

    def __init__(self, queues: Iterable[BaseQueue]) -> None:
        self.queues = {q.name: q for q in queues if q.supports_periodic}
        self.without_ticks = {q.name: q for q in queues if not q.supports_periodic}
        self.started: datetime | None = None
        self._handled: dict[str, datetime] = {}
        self._refused: set[str] = set()

    def write(self, now: datetime) -> int:
        from .building import build_message

        if self.started is None:
            self.started = now
        written = 0
        for entry in periodic_commands():
            command, schedule = entry.command, entry.schedule
            queue = self.queues.get(command.options.queue)
            if command.options.queue in self.without_ticks:
                self._refuse(command)
                continue
            tick = schedule.latest(now)
            if queue is None or self._handled.get(command.name) == tick:
                continue
            if tick < self.started and not schedule.catch_up:
                self._handled[command.name] = tick
                continue
            message = build_message(command.using(eta=tick), (), {})
            if queue.write_tick(message, command.name, tick):
                written += 1
                logger.info(
                    "Enqueued %s for its tick at %s", command.name, tick.isoformat()
                )
            self._handled[command.name] = tick
        return written

    def _refuse(self, command: QueueCommand[[], Any]) -> None:
        """Say once that ``command`` gets no ticks on its queue."""
        if command.name in self._refused:
            return
        self._refused.add(command.name)
        queue = self.without_ticks[command.options.queue]
        logger.warning(
            "Periodic command %s does not run: its queue %r uses %s, which "
            "does not support periodic ticks",
            command.name,
            queue.name,
            type(queue).__name__,
        )
