"""Several consumer processes under one supervising process.

``run_queue --processes N`` runs a :class:`Supervisor`: it starts N child
processes (``spawn``), each a whole consumer with its own workers, and is
the one process systemd sees. Each child gets a private notification
socket of its own as ``NOTIFY_SOCKET``, so it talks systemd's protocol
unchanged and the supervisor knows who spoke.

What the supervisor guarantees:

- **READY** goes upstream once every child slot has had a child say
  READY. A child (re)started later is *starting* until it says READY; a
  child cannot say it while its backend is down, so starting children are
  watched by pid only and never hold back the watchdog.
- **WATCHDOG** goes upstream each interval in which every *ready* child
  pinged: a consumer stuck for a whole interval starves systemd's
  watchdog, as a single ``run_queue`` would; an outage does not (a child
  keeps pinging while its backend hangs).
- **Stop.** The first SIGTERM or SIGINT tells systemd STOPPING and every
  child to stop gracefully; a second one tells them to release their
  messages now. Children take these orders from the supervisor only (they
  ignore the signals, which systemd and a terminal also send them) and stop
  gracefully if the supervisor disappears. A child still running
  ``grace_period + STOP_MARGIN`` seconds after the first order is killed.
- **Replacement.** A child that dies while the supervisor runs is replaced
  after a backoff; its leased messages run again once their lease expires.
  A configuration error (exit 78) stops everything; so do
  ``MAX_START_DEATHS`` deaths in a row of children that never got ready.
- **Exit status**: the worst of the children's, see
  :func:`~djqueue.consumer.exit_statuses.worst_status`.

How a child is started, heard and reaped is in :mod:`.child_processes`;
the child's own side in :mod:`.child`.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any

from .child_processes import Child, Slot, Spawner
from .exit_statuses import EXIT_CONFIG, EXIT_START_FAILED, describe, worst_status
from .systemd import SystemdNotifier

logger = logging.getLogger("djqueue.consumer")

#: Deaths in a row of children that never said READY, after which the
#: supervisor gives up (a crash at start-up does not mend by restarting).
MAX_START_DEATHS = 5
#: Seconds a child gets beyond the grace period to release its messages and
#: sign off (each of its unanswered calls is abandoned after a few seconds).
STOP_MARGIN = 15.0
_TICK = 0.25


class Supervisor:
    """Run ``processes`` children until stopped, each a spawned process
    that calls ``child_main(child_args, worker_id, orders)``.

    ``child_main`` is the dotted path of a function that runs a consumer
    and returns its exit status; :func:`~.child.child_bootstrap` imports it
    once the child's environment and Django are set up. ``child_args`` must
    pickle. :meth:`stop` is safe from a signal handler.
    """

    def __init__(
        self,
        processes: int,
        child_main: str,
        child_args: Any,
        *,
        worker_id: str,
        grace_period: float,
        burst: bool = False,
        notifier: SystemdNotifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1.")
        self.slots = [Slot(number) for number in range(1, processes + 1)]
        self.child_main = child_main
        self.child_args = child_args
        self._spawner = Spawner(child_main, child_args)
        self.worker_id = worker_id
        self.grace_period = grace_period
        self.burst = burst
        self.notifier = notifier or SystemdNotifier(environ={})
        self.clock = clock
        self._selector = selectors.DefaultSelector()
        self._ready_sent = False
        self._watchdog_due = 0.0
        self._start_deaths = 0
        self._stop_orders = 0
        self._stop_deadline: float | None = None
        self._fatal: int | None = None
        self._signalled = 0
        self._wakeup_read, self._wakeup_write = socket.socketpair()
        # A signal handler writes to it and must never block.
        self._wakeup_write.setblocking(False)

    # -- Control ---------------------------------------------------------------

    def stop(self) -> None:
        """Count a stop request; :meth:`run` passes it on to the children."""
        self._signalled += 1
        with contextlib.suppress(OSError):
            self._wakeup_write.send(b"\0")

    def run(self) -> int:
        """Supervise until every child has exited; return the exit status."""
        self._spawner.open()
        self._selector.register(self._wakeup_read, selectors.EVENT_READ, "wakeup")
        logger.info(
            "Supervisor %s started: %d consumer process(es)",
            self.worker_id,
            len(self.slots),
        )
        try:
            while self._step():
                pass
        finally:
            for slot in self.slots:
                if slot.child is not None:  # only after an unexpected error
                    slot.child.process.kill()
                    self._reap(slot, slot.child)
            self._selector.close()
            self._wakeup_read.close()
            self._wakeup_write.close()
            self._spawner.close()
        status = self._fatal
        if status is None:
            status = worst_status([s for slot in self.slots for s in slot.statuses])
        logger.info("Supervisor %s stopped (exit status %d)", self.worker_id, status)
        return status

    # -- The loop ----------------------------------------------------------------

    def _step(self) -> bool:
        """Wait for one round of events and act on them; False once done."""
        for key, _ in self._selector.select(self._timeout()):
            if key.data == "wakeup":
                self._wakeup_read.recv(64)
            elif isinstance(key.data, Child):
                self._read_notifications(key.data)
            else:
                slot = key.data
                if slot.child is not None:
                    self._child_exited(slot, slot.child)
        self._pass_on_stop()
        self._start_due()
        self._tell_systemd()
        self._kill_late()
        return any(slot.child or slot.due is not None for slot in self.slots)

    def _timeout(self) -> float:
        soon = [slot.due for slot in self.slots if slot.due is not None]
        if self.notifier.watchdog_interval:
            soon.append(self._watchdog_due)
        if not soon:
            return _TICK
        return min(max(min(soon) - self.clock(), 0.0), _TICK)

    def _pass_on_stop(self) -> None:
        while self._stop_orders < min(self._signalled, 2):
            self._stop_orders += 1
            self._order_all("stop" if self._stop_orders == 1 else "release")

    def _order_all(self, order: str) -> None:
        """Tell every child to stop (``stop``) or release now (``release``);
        start no more children."""
        if self._stop_deadline is None:
            self._stop_deadline = self.clock() + self.grace_period + STOP_MARGIN
            self.notifier.stopping(self.grace_period + STOP_MARGIN + 5)
            logger.warning("Stopping %d consumer process(es)", self._alive())
        elif order == "release":
            logger.warning("Telling the consumer processes to release now")
        for slot in self.slots:
            slot.due = None
            if slot.child is not None:
                # One that is exiting cannot read it; its sentinel will say so.
                with contextlib.suppress(OSError):
                    slot.child.control.send(order)

    def _alive(self) -> int:
        return sum(slot.child is not None for slot in self.slots)

    def _kill_late(self) -> None:
        if self._stop_deadline is None or self.clock() < self._stop_deadline:
            return
        for slot in self.slots:
            child = slot.child
            if child is not None and not child.killed:
                logger.error(
                    "Consumer process %s/%d (pid %d) did not stop in %.0fs; "
                    "killing it: its messages run again once their lease expires",
                    self.worker_id,
                    slot.number,
                    child.process.pid,
                    self.grace_period + STOP_MARGIN,
                )
                child.killed = True
                child.process.kill()

    # -- Children ----------------------------------------------------------------

    def _start_due(self) -> None:
        now = self.clock()
        for slot in self.slots:
            if slot.child is None and slot.due is not None and now >= slot.due:
                slot.due = None
                slot.child = self._start(slot)

    def _start(self, slot: Slot) -> Child:
        worker_id = f"{self.worker_id}/{slot.number}"
        child = self._spawner.start(
            slot.number, worker_id, self.notifier.watchdog_interval, self.clock
        )
        self._selector.register(child.socket, selectors.EVENT_READ, child)
        self._selector.register(child.process.sentinel, selectors.EVENT_READ, slot)
        logger.info(
            "Started consumer process %s (pid %d)", worker_id, child.process.pid
        )
        return child

    def _read_notifications(self, child: Child) -> None:
        if child.read_notifications(self.clock):
            self._start_deaths = 0

    def _reap(self, slot: Slot, child: Child) -> int:
        child.process.join()
        self._read_notifications(child)
        for registered in (child.socket, child.process.sentinel):
            self._selector.unregister(registered)
        status = child.close()
        slot.child = None
        return status

    def _child_exited(self, slot: Slot, child: Child) -> None:
        status = self._reap(slot, child)
        name = f"{self.worker_id}/{slot.number} (pid {child.process.pid})"
        if self._stop_deadline is not None or self.burst:
            slot.statuses.append(status)
            if status != 0:
                logger.warning("Consumer process %s %s", name, describe(status))
            if status == EXIT_CONFIG and self._stop_deadline is None:
                self._give_up(EXIT_CONFIG, "a configuration error")
            return
        if status == EXIT_CONFIG:
            logger.error("Consumer process %s exited with a configuration error", name)
            self._give_up(EXIT_CONFIG, "a configuration error")
            return
        lived = self.clock() - child.started
        if status == 0 and child.ready:  # --max-messages, say
            logger.info("Consumer process %s exited; replacing it", name)
            slot.deaths = 0
            slot.due = self.clock()
            return
        if not child.ready:
            self._start_deaths += 1
            if self._start_deaths >= MAX_START_DEATHS:
                logger.error(
                    "Consumer process %s %s before it was ready, the %d-th such "
                    "death in a row; giving up",
                    name,
                    describe(status),
                    self._start_deaths,
                )
                self._give_up(EXIT_START_FAILED, "children dying at start-up")
                return
        delay = slot.backoff(lived)
        slot.due = self.clock() + delay
        logger.error(
            "Consumer process %s %s; its running messages run again once their "
            "lease expires; replacing it in %.1fs",
            name,
            describe(status),
            delay,
        )

    def _give_up(self, status: int, why: str) -> None:
        """Stop every child and exit with ``status`` once they are gone."""
        if self._fatal is None:
            self._fatal = status
            logger.error("Supervisor %s stops: %s", self.worker_id, why)
            self._signalled = max(self._signalled, 1)
            self._pass_on_stop()

    # -- systemd -------------------------------------------------------------------

    def _tell_systemd(self) -> None:
        if not self._ready_sent and all(
            slot.child is not None and slot.child.ready for slot in self.slots
        ):
            self._ready_sent = True
            self.notifier.ready(f"Consuming with {len(self.slots)} process(es)")
            logger.info("All %d consumer process(es) are ready", len(self.slots))
        interval = self.notifier.watchdog_interval
        now = self.clock()
        if not (interval and self._ready_sent and now >= self._watchdog_due):
            return
        ready = [slot.child for slot in self.slots if slot.child and slot.child.ready]
        if all(now - child.pinged <= interval for child in ready):
            self._watchdog_due = now + interval
            self.notifier.watchdog()
