"""How a consumer lives through a backend that fails or does not answer.

:class:`Outage` logs an outage once: its first error with the traceback,
that the backend does not answer, and that it answers again, which only a
call that reached the backend and succeeded can say.

A server that accepts connections and then stops answering holds a call for
as long as the client waits: redis-py's socket timeout times its retries,
and Python resumes a blocking read after a signal handler runs. The
consumer marks each backend call of its main thread with
:meth:`CallWatch.calling`; a thread of the watch, which never calls the
backend, then says once that the backend does not answer, keeps the systemd
watchdog fed meanwhile (the process is healthy: it waits), and, past the
deadline the consumer sets when it stops, interrupts the call with
:exc:`CallAbandoned` so that a stop never waits for the backend.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

logger = logging.getLogger("djqueue.consumer")

#: Seconds without an answer after which the consumer logs that the backend
#: does not answer.
STALL_AFTER = 5.0
#: Seconds a backend call of the main thread may take once the consumer is
#: stopping, for the call under way and for each release at the end.
STOP_CALL_WAIT = 3.0
#: Seconds a backend call under way may still take after a second stop:
#: enough for a healthy server to answer (a purge, a claim), so that
#: "release now" never turns a call that was being answered into one the
#: consumer stops without.
FORCED_CALL_WAIT = 1.0
#: Seconds past its own timeout that a wait on the server may take.
WAIT_MARGIN = 1.0
#: The signal the watch sends the main thread to interrupt a call.
INTERRUPT_SIGNAL = signal.SIGALRM
_TICK = 0.25


class CallAbandoned(BaseException):
    """Raised in the main thread in a backend call still unanswered at the
    deadline. Not an ``Exception``, so that no handler of backend errors
    (the client's retries, the consumer's outage handling) takes it for one.
    """


class CallWatch:
    """Watch the backend calls of the consumer's main thread.

    ``on_stall(what, seconds, started)`` is called from the watch's thread
    once per call that has gone ``stall_after`` seconds without an answer
    (``started`` is what the caller gave :meth:`calling`);
    ``on_waiting()`` at every tick of such a call. Interrupting needs
    :meth:`enable_interrupts`, from the main thread (``run_queue`` does it).
    """

    def __init__(
        self,
        on_stall: Callable[[str, float, float], None],
        on_waiting: Callable[[], None],
        stall_after: float = STALL_AFTER,
    ) -> None:
        self.on_stall = on_stall
        self.on_waiting = on_waiting
        self.stall_after = stall_after
        #: Monotonic time after which a call still unanswered is abandoned;
        #: None (while running) lets calls take as long as the client waits.
        self.deadline: float | None = None
        # (serial, what, since, started): one attribute, replaced whole, so
        # the watch thread and the signal handler read it without a lock.
        self._call: tuple[int, str, float, float] | None = None
        self._serial = 0
        self._stalled = 0
        self._interrupted = 0
        self._main_thread: int | None = None
        self._previous: Any = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def calling(
        self, what: str, started: float = 0.0, patience: float = 0.0
    ) -> Iterator[None]:
        """Mark the main thread's backend call ``what`` (a verb phrase).

        ``patience`` is how long the call may wait on the server by design
        (a blocking claim): that long, and :data:`WAIT_MARGIN` more, it is
        neither stalled nor abandoned, so that a stop does not cut a wait
        that would have been answered.
        """
        self._serial += 1
        since = time.monotonic() + (patience + WAIT_MARGIN if patience else 0.0)
        self._call = (self._serial, what, since, started)
        try:
            yield
        finally:
            self._call = None

    def enable_interrupts(self) -> None:
        """Let the watch interrupt calls past the deadline (main thread
        only) until :meth:`close`, which restores the signal's handler."""
        self._previous = signal.signal(INTERRUPT_SIGNAL, self._interrupt)
        self._main_thread = threading.main_thread().ident

    def start(self) -> None:
        self._closed.clear()
        self._thread = threading.Thread(
            target=self._watch, name="djqueue-call-watch", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(1.0)
        if self._main_thread is not None:
            self._main_thread = None
            signal.signal(INTERRUPT_SIGNAL, self._previous)

    def _watch(self) -> None:
        while not self._closed.wait(_TICK):
            call = self._call
            if call is None:
                continue
            serial, what, since, started = call
            waited = time.monotonic() - since  # < 0 while a wait is patient
            if waited >= self.stall_after and self._stalled != serial:
                self._stalled = serial
                self.on_stall(what, waited, started)
            if waited >= _TICK:
                self.on_waiting()
            deadline = self.deadline
            if (
                deadline is not None
                and time.monotonic() >= max(deadline, since)
                and self._main_thread is not None
                and self._interrupted != serial
            ):
                self._interrupted = serial
                signal.pthread_kill(self._main_thread, INTERRUPT_SIGNAL)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        call, deadline = self._call, self.deadline
        if call is None or deadline is None:
            return
        if time.monotonic() < max(deadline, call[2]):
            return
        # Cleared first: a late signal must never raise outside a call.
        self._call = None
        raise CallAbandoned(call[1], time.monotonic() - call[2])


class Outage:
    """The state of the backend as the consumer's threads see it.

    Safe to use from every thread. ``clock`` (monotonic seconds) dates the
    outage; ``on_error`` runs in the failing thread after each failure.
    """

    def __init__(
        self, clock: Callable[[], float], on_error: Callable[[], None]
    ) -> None:
        self.clock = clock
        self.on_error = on_error
        self._lock = threading.Lock()
        self.since: float | None = None
        self._traced = False
        self._stall_told = False

    def failed(self, what: str, exc: BaseException) -> None:
        """Log the first failure of an outage with its traceback, later ones
        at debug level only."""
        self.on_error()
        with self._lock:
            if self.since is None:
                self.since = self.clock()
            first, self._traced = not self._traced, True
        if first:
            logger.error(
                "Cannot %s (%s); retrying with backoff until it answers",
                what,
                exc,
                exc_info=exc,
            )
        else:
            logger.debug("Still cannot %s: %s", what, exc)

    def stalled(self, what: str, seconds: float, started: float) -> None:
        """Log, once per outage, that a call made at ``started`` has had no
        answer for ``seconds``; the outage dates from that call."""
        with self._lock:
            if self.since is None:
                self.since = started
            first, self._stall_told = not self._stall_told, True
        if first:
            logger.warning(
                "The queue backend has not answered for %.1fs (trying to %s); "
                "waiting for it. The consumer still stops on SIGTERM.",
                seconds,
                what,
            )

    def answered(self, started: float) -> None:
        """A call made at ``started`` (on ``clock``) reached the backend and
        succeeded: end the outage, if it had begun by then. A call that was
        answered before the outage began says nothing about its end."""
        if self.since is None:
            return
        with self._lock:
            since = self.since
            if since is None or started < since:
                return
            self.since = None
            self._traced = self._stall_told = False
        logger.warning(
            "The queue backend answers again after %.1fs", self.clock() - since
        )


#: What :meth:`BackendCalls.ask` returns for a call that failed.
UNANSWERED: Any = object()


class BackendCalls:
    """The consumer's main-thread calls to its backends: each watched by
    ``watch`` (so a stop never waits for an unanswering server), its
    failure logged by ``outage`` and its success ending the outage."""

    def __init__(self, watch: CallWatch, outage: Outage, clock: Callable[[], float]):
        self.watch = watch
        self.outage = outage
        self.clock = clock

    @contextlib.contextmanager
    def asking(self, what: str, patience: float = 0.0) -> Iterator[float]:
        """Mark a call ``what`` (a verb phrase) that may wait ``patience``
        seconds on the server by design; yield when it started."""
        started = self.clock()
        with self.watch.calling(what, started, patience):
            yield started

    def ask(self, what: str, call: Callable[[], Any], patience: float = 0.0) -> Any:
        """Return what ``call`` returns, or :data:`UNANSWERED` if it raised
        (the failure is logged as part of the outage)."""
        try:
            with self.asking(what, patience) as started:
                answer = call()
        except Exception as exc:
            self.outage.failed(what, exc)
            return UNANSWERED
        self.outage.answered(started)
        return answer

    def guarded(self, what: str, action: Callable[[], int | None]) -> int:
        """Run a housekeeping step; ``action`` returns a count, or None when
        it asked the backend nothing (then its success proves nothing)."""
        try:
            with self.asking(what) as started:
                done = action()
        except Exception as exc:
            self.outage.failed(what, exc)
            return 0
        if done is not None:
            self.outage.answered(started)
        return done or 0
