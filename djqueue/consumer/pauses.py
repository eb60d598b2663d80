"""Which of a consumer's queues are paused, read from their store.

The main thread reads the pause of each queue whose backend supports it
(``supports_pause``) at most once every :data:`PAUSE_CHECK_INTERVAL`
seconds, one small read a queue, never per message. The claimer skips a
paused queue; the messages the consumer already holds run on, and their
leases are renewed. A queue whose pause cannot be read keeps the state last
read. Each change is logged once: "paused by" as a warning (nothing is
claimed from the queue, which an operator should see at any verbosity),
"resumed" as information.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..backends.base import BaseQueue
from ..backends.pausing import Pause

logger = logging.getLogger("djqueue.consumer")

#: Seconds between two reads of the pauses: a consumer stops claiming from
#: a queue paused elsewhere within about this long, and starts again as
#: long after it is resumed.
PAUSE_CHECK_INTERVAL = 1.0


class Pauses:
    """The pauses of a consumer's queues, as last read."""

    def __init__(self, queues: Sequence[BaseQueue]) -> None:
        self.pausable = [queue for queue in queues if queue.supports_pause]
        #: Queue name -> its pause, for the queues paused when last read.
        self.paused: dict[str, Pause] = {}

    def read(self) -> int | None:
        """Read the pause of each pausable queue and log what changed;
        return how many are paused, or None when no queue can be paused."""
        if not self.pausable:
            return None
        for queue in self.pausable:
            self._note(queue.name, queue.pause_state())
        return len(self.paused)

    def _note(self, name: str, pause: Pause | None) -> None:
        was = self.paused.get(name)
        if pause is None and was is not None:
            del self.paused[name]
            logger.info("Queue %s resumed: claiming from it again", name)
        elif pause is not None and was is None:
            self.paused[name] = pause
            logger.warning(
                "Queue %s paused by %s since %s%s: claiming nothing from it "
                "until it is resumed",
                name,
                pause.by,
                pause.since.isoformat(timespec="seconds"),
                f" ({pause.reason})" if pause.reason else "",
            )
        elif pause is not None:
            self.paused[name] = pause
