"""How a consumer stops: it finishes or gives back what it holds, then
signs off.

Once the main loop ends (stopped, or a burst that ran out of messages),
running messages get ``grace_period`` seconds to finish while their leases
are renewed and acknowledgements are stored; what is still held then is
released to its queue without counting the attempt, and the runs still
going are killed. Every backend call on the way has a deadline: one that
gets no answer is abandoned, and the consumer stops without the backend's
answer (:attr:`~djqueue.consumer.consumer.Consumer.unanswered`); messages
neither acknowledged nor released run again once their lease expires
(counted in ``unreleased``). Last, the consumer stores its run statistics,
leaves the consumer lists of its queues (unless the backend stopped
answering) and closes its connections.
"""

from __future__ import annotations

import logging
import time

from django.db import connections

from ..backends.base import BaseQueue
from ..db import close_old_connections
from ..envelope.message import Message
from .outages import STOP_CALL_WAIT, CallAbandoned
from .part import ConsumerPart

logger = logging.getLogger("djqueue.consumer")


class Shutdown(ConsumerPart):
    """Mixed into ``Consumer``: the end of :meth:`Consumer.run`."""

    def _abandoned(self, exc: CallAbandoned) -> None:
        """A backend call got no answer by its deadline: log it once, and
        stop without the backend's answer."""
        what, seconds = exc.args
        if not self.unanswered:
            logger.error(
                "Gave up waiting %.1fs for the queue backend to %s; stopping "
                "without its answer",
                seconds,
                what,
            )
        self.unanswered = True

    def _shutdown(self) -> None:
        """Let running messages finish for up to ``grace_period`` seconds
        (none after a second stop), their leases renewed; store the pending
        acknowledgements, release what is still held, then stop the
        workers."""
        if not self._stopping.is_set():  # burst mode ran out of messages
            self.notifier.stopping(self.grace_period + 10)
            self._stopping.set()
        deadline = self.clock() + self.grace_period
        if not self._force:
            self.watch.deadline = time.monotonic() + self.grace_period
        if self._finishing() and not self._force:
            logger.info(
                "Waiting up to %.0fs for %d running message(s)",
                self.grace_period,
                self.workers.running,
            )
        while self._finishing() and not self._force and self.clock() < deadline:
            self._watchdog()
            if not self.unanswered and self._schedule.every(
                "heartbeat", self.heartbeat_interval
            ):
                try:
                    self.calls.guarded("heartbeat", self._heartbeat)
                except CallAbandoned as exc:
                    self._abandoned(exc)
            self._wait(min(0.2, max(deadline - self.clock(), 0)))
        for message in self.acks.close(STOP_CALL_WAIT):
            # Ran, but not acknowledged: it runs again once its lease expires.
            self.inflight.finish(message)
            self.unanswered = True
            self.unreleased += 1
        leftover = self.inflight.by_queue()
        self.watch.deadline = time.monotonic() + STOP_CALL_WAIT
        for queue, messages in leftover.items():
            self._release(queue, messages)
        if leftover:
            self.workers.kill_runs()
        self.workers.stop()
        close_old_connections()

    def _finishing(self) -> bool:
        """Whether messages are still running or acks still being stored."""
        return bool(self.workers.running or len(self.acks))

    def _release(self, queue: BaseQueue, messages: list[Message]) -> None:
        """Give unfinished messages back to their queue, unless the backend
        does not answer by the deadline: then they run again once their
        lease expires."""
        deadline = self.watch.deadline
        try:
            if deadline is None or time.monotonic() < deadline:
                with self.calls.asking(f"release messages to queue {queue.name!r}"):
                    released = queue.release(messages)
                logger.warning(
                    "Released %d unfinished message(s) back to queue %r",
                    released,
                    queue.name,
                )
                return
        except CallAbandoned as exc:
            self._abandoned(exc)
        except Exception:
            logger.exception("Cannot release %d message(s)", len(messages))
        self.unanswered = True
        self.unreleased += len(messages)
        logger.warning(
            "Did not release %d unfinished message(s) of queue %r; they run "
            "again once their lease expires",
            len(messages),
            queue.name,
        )

    def _sign_off(self) -> None:
        """Store the last run statistics and leave the consumer lists of the
        queues that keep them, unless the backend stopped answering."""
        try:
            if not self.unanswered:
                self.calls.guarded("record run statistics", self.presence.announce)
            for queue in self.queues:
                if self.unanswered:
                    return
                if not queue.supports_presence:
                    continue
                try:
                    with self.calls.asking(f"unregister from queue {queue.name!r}"):
                        queue.unregister_consumer(self.worker_id)
                except Exception as exc:
                    logger.debug("Cannot unregister from %r: %s", queue.name, exc)
        except CallAbandoned as exc:
            self._abandoned(exc)

    def _disconnect(self) -> None:
        """Close the queues' connections and this thread's database ones."""
        for queue in self.queues:
            queue.close()
        connections.close_all()
