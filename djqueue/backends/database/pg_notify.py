"""Wake consumers of a PostgreSQL ``DatabaseQueue`` with LISTEN/NOTIFY.

A trigger (migration ``0006_ready_notify``) sends ``NOTIFY`` on the queue's
channel in the transaction that makes one of its messages ready: a write, a
bulk write, a retry or release, a promotion. PostgreSQL delivers it when that
transaction commits. A consumer waiting for messages LISTENs on a connection
of its own, in autocommit mode, and polls instead while that connection
cannot be had (psycopg 2, a server that refuses it, a connection that was
lost), trying again with a growing delay. Nothing here raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from typing import Any

from django.db import connections

logger = logging.getLogger("djqueue.consumer")

#: Seconds without a notification after which the listening connection is
#: checked with a query, so a connection lost without a word is noticed.
CHECK_INTERVAL = 30.0
#: The first and the longest delay before connecting again after a failure.
RECONNECT_DELAYS = (0.5, 30.0)


def channel(queue_name: str) -> str:
    """The channel of a queue: a valid identifier for any queue name."""
    digest = hashlib.md5(queue_name.encode(), usedforsecurity=False).hexdigest()
    return f"djqueue_{digest}"


class Listener:
    """A dedicated connection to the database ``alias`` that LISTENs on the
    channel of one queue. Use it from one thread at a time."""

    def __init__(self, alias: str, queue_name: str) -> None:
        self.alias = alias
        self.channel = channel(queue_name)
        self._connection: Any = None
        self._checked_at = 0.0
        self._retry_at = 0.0
        self._delay = RECONNECT_DELAYS[0]
        self._failing = False

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a notification; return True if
        a message may have become ready meanwhile (one was notified, or the
        listening connection was just made or lost), False otherwise."""
        if self._connection is None:
            if time.monotonic() < self._retry_at or not self._connect():
                time.sleep(max(timeout, 0))
                return False
            # Messages written before LISTEN took effect were not notified.
            return True
        try:
            self._check()
            woken = False
            for _ in self._connection.notifies(timeout=max(timeout, 0), stop_after=1):
                woken = True
            if woken:
                # Notifications that queued up meanwhile say nothing more.
                for _ in self._connection.notifies(timeout=0):
                    pass
                self._checked_at = time.monotonic()
            return woken
        except Exception as exc:
            self._lost(exc)
            return True

    def _connect(self) -> bool:
        try:
            import psycopg

            wrapper = connections[self.alias]
            params = wrapper.get_connection_params()
            connection = psycopg.connect(**params, autocommit=True)
            try:
                connection.execute(f'LISTEN "{self.channel}"')
            except Exception:
                connection.close()
                raise
        except Exception as exc:
            self._retry_at = time.monotonic() + self._delay
            if not self._failing:
                logger.warning(
                    "Cannot LISTEN for new messages on database %r (%s); "
                    "polling, and trying again with backoff",
                    self.alias,
                    exc,
                )
            self._failing = True
            self._delay = min(self._delay * 2, RECONNECT_DELAYS[1])
            return False
        if self._failing:
            logger.warning("Listening for new messages on %r again", self.alias)
        self._connection = connection
        self._checked_at = time.monotonic()
        self._failing = False
        self._delay = RECONNECT_DELAYS[0]
        return True

    def _check(self) -> None:
        """Query the connection now and then: a connection whose server went
        away without closing it otherwise only ever times out."""
        if time.monotonic() - self._checked_at >= CHECK_INTERVAL:
            self._connection.execute("SELECT 1")
            self._checked_at = time.monotonic()

    def _lost(self, exc: Exception) -> None:
        logger.warning(
            "Lost the connection that listens for new messages on %r (%s); "
            "polling until it is back",
            self.alias,
            exc,
        )
        self.close()
        self._failing = True
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, RECONNECT_DELAYS[1])

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # it is gone either way
                connection.close()
