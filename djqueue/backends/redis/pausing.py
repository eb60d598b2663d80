"""The pause of a ``RedisQueue``: the key ``{prefix:name}:paused``, of the
queue's hash tag (so on its Redis Cluster slot), holding who paused it, when
and why as JSON. Each call is one command on that key."""

from __future__ import annotations

import json
from datetime import datetime

from ..pausing import Pause, check_pause
from .part import RedisPart


def _encode(pause: Pause) -> str:
    return json.dumps(
        {"by": pause.by, "since": pause.since.isoformat(), "reason": pause.reason}
    )


def _decode(raw: str | bytes | None) -> Pause | None:
    if raw is None:
        return None
    fields = json.loads(raw)
    return Pause(
        by=fields["by"],
        since=datetime.fromisoformat(fields["since"]),
        reason=fields.get("reason", ""),
    )


class RedisPausing(RedisPart):
    """Pause, resume and read the pause of the queue."""

    def pause(self, by: str, reason: str = "", now: datetime | None = None) -> Pause:
        check_pause(by, reason)
        wanted = Pause(by=by, since=now or self.now(), reason=reason)
        key = self.key("paused")
        for _ in range(3):
            if self.client.set(key, _encode(wanted), nx=True):
                return wanted
            if (first := _decode(self.client.get(key))) is not None:
                return first
        raise RuntimeError(f"Cannot pause queue {self.name!r}: it keeps changing.")

    def resume(self) -> Pause | None:
        return _decode(self.client.getdel(self.key("paused")))

    def pause_state(self) -> Pause | None:
        return _decode(self.client.get(self.key("paused")))
