"""What the inspection API returns besides messages: who serves a queue
(:class:`ConsumerInfo`, :class:`RunningMessage`), how fast
(:class:`Throughput`), and the pages of scans and bulk changes
(:class:`MessageScan`, :class:`ChangeScan`).

Consumers register with every queue they serve and heartbeat there; a
consumer whose heartbeat is older than the ttl it registered with is
considered gone. Run statistics are counted in the consumer and added to the
backend once per heartbeat, never per message. Every name here is also
importable from :mod:`djqueue.backends.inspection`, where the docs list it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

from ..envelope.message import Message
from ..states import State

#: How long per-minute run statistics are kept.
THROUGHPUT_RETENTION = timedelta(hours=3)
#: How many of the messages it holds a consumer names at each heartbeat.
MAX_RUNNING_SHOWN = 20


@dataclasses.dataclass(frozen=True, slots=True)
class RunningMessage:
    """A message a consumer held (leased, running or about to) at its last
    heartbeat."""

    queue: str
    id: str
    command: str
    started_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """One ``run_queue`` process, as it last reported itself.

    ``id`` is its worker id (``run_queue --worker-id``, by default
    ``host:pid``), the ``worker`` of the messages it claims. ``running``
    names at most :data:`MAX_RUNNING_SHOWN` of the messages it held at that
    heartbeat, ``holding`` says how many it held in all.
    """

    id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    worker_type: str
    started_at: datetime
    heartbeat_at: datetime
    #: Runs this consumer finished since it started, and how many failed.
    processed: int = 0
    failed: int = 0
    running: tuple[RunningMessage, ...] = ()
    holding: int = 0

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["queues"] = list(self.queues)
        data["started_at"] = self.started_at.isoformat()
        data["heartbeat_at"] = self.heartbeat_at.isoformat()
        data["running"] = [
            [each.queue, each.id, each.command, _iso(each.started_at)]
            for each in self.running
        ]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ConsumerInfo:
        """Rebuild what :meth:`to_json` stored; raise ``ValueError`` on
        anything else."""
        try:
            data = json.loads(text)
            return cls(
                id=str(data["id"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                queues=tuple(str(name) for name in data["queues"]),
                concurrency=int(data["concurrency"]),
                worker_type=str(data["worker_type"]),
                started_at=datetime.fromisoformat(data["started_at"]),
                heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]),
                processed=int(data.get("processed", 0)),
                failed=int(data.get("failed", 0)),
                running=tuple(
                    RunningMessage(str(queue), str(id), str(command), _moment(at))
                    for queue, id, command, at in data.get("running", ())
                ),
                holding=int(data.get("holding", 0)),
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"not a stored consumer: {exc}") from exc


@dataclasses.dataclass(frozen=True, slots=True)
class Throughput:
    """Runs of one queue that finished within one minute."""

    minute: datetime
    done: int
    failed: int


@dataclasses.dataclass(frozen=True, slots=True)
class MessageScan:
    """One page of a scan through the messages of a state.

    ``messages`` are the matches found, at most the page's limit; ``cursor``
    is where the next page continues, or ``""`` once the scan reached the
    end of the state; ``examined`` is how many stored messages the backend
    looked at for this page. A page can be short, even empty, while the scan
    goes on: the backend stopped after examining as many messages as it may
    for one page.
    """

    messages: list[Message]
    cursor: str
    examined: int


@dataclasses.dataclass(frozen=True, slots=True)
class ChangeScan:
    """One step of :meth:`Inspection.change_scan`: how many messages it
    changed, the cursor the next step goes on from (``""`` at the end of the
    state) and how many stored messages it examined."""

    changed: int
    cursor: str
    examined: int


#: The operator's changes -> the states a message must be in to take them.
CHANGES: dict[str, tuple[State, ...]] = {
    "retry": (State.FAILED, State.CANCELLED, State.EXPIRED),
    "cancel": (State.QUEUED, State.SCHEDULED),
    "run_now": (State.SCHEDULED,),
    "delete": tuple(State),
}


def check_change(action: str, state: State) -> None:
    """Raise ``ValueError`` unless ``action`` applies to messages in ``state``."""
    if state not in CHANGES.get(action, ()):
        raise ValueError(
            f"{action!r} does not apply to {state} messages; the changes are "
            + ", ".join(f"{name} ({', '.join(CHANGES[name])})" for name in CHANGES)
        )


def minute_of(moment: datetime) -> datetime:
    """The start of the minute ``moment`` falls in."""
    return moment.replace(second=0, microsecond=0)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _moment(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
