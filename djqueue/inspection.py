"""What the admin, ``queue_info`` and the metrics view read about a queue
besides its messages: the consumers serving it and its recent throughput.

Consumers register with every queue they serve and heartbeat there; a
consumer whose heartbeat is older than the ttl it registered with is
considered gone. Run statistics are counted in the consumer and added to the
backend once per heartbeat, never per message.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta

from .message import Message

#: How long per-minute run statistics are kept.
THROUGHPUT_RETENTION = timedelta(hours=3)


@dataclasses.dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """One ``run_queue`` process, as it last reported itself."""

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

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["queues"] = list(self.queues)
        data["started_at"] = self.started_at.isoformat()
        data["heartbeat_at"] = self.heartbeat_at.isoformat()
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


def minute_of(moment: datetime) -> datetime:
    """The start of the minute ``moment`` falls in."""
    return moment.replace(second=0, microsecond=0)
