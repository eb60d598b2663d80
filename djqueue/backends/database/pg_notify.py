"""Wake consumers of a PostgreSQL ``DatabaseQueue`` with LISTEN/NOTIFY.

A trigger (migration ``0006_ready_notify``) sends ``NOTIFY`` on the queue's
channel in the transaction that makes one of its messages ready: a write, a
bulk write, a retry or release, a promotion. PostgreSQL delivers it when that
transaction commits. A consumer waiting for messages LISTENs on a connection
of its own, in autocommit mode, and polls instead while that connection
cannot be had (psycopg 2, a server that refuses it, a connection that was
lost), trying again with a growing delay. Nothing here raises.

A connection that LISTENs is proven before it is used: a NOTIFY sent from
another connection must reach it within :data:`PROBE_TIMEOUT`. Through a
pooler in transaction mode (PgBouncer's ``pool_mode = transaction``), LISTEN
succeeds but registers on whichever server connection ran it, and no
notification ever comes back: the consumer then logs one warning, polls,
and tries again every :data:`PROBE_RETRY` seconds. The listening connection never
prepares statements on the server (``prepare_threshold`` is ``None``
whatever the database's ``OPTIONS`` say), which such a pooler does not
support either.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

from django.db import connections

logger = logging.getLogger("djqueue.consumer")

#: Seconds without a notification after which the listening connection is
#: checked with a query, so a connection lost without a word is noticed.
CHECK_INTERVAL = 30.0
#: The first and the longest delay before connecting again after a failure.
RECONNECT_DELAYS = (0.5, 30.0)
#: Seconds a new listening connection has to receive the probe's NOTIFY.
PROBE_TIMEOUT = 1.0
#: Seconds of polling before a connection the probe did not reach is tried
#: again.
PROBE_RETRY = 300.0


def channel(queue_name: str) -> str:
    """The channel of a queue: a valid identifier for any queue name."""
    digest = hashlib.md5(queue_name.encode(), usedforsecurity=False).hexdigest()
    return f"djqueue_{digest}"


class Listener:
    """A dedicated connection to the database ``alias`` that LISTENs on the
    channel of one queue. Use it from one thread at a time.

    ``sender_alias`` is the alias the queue writes through, ``alias`` by
    default: the probe's NOTIFY is sent there, so a listening connection
    passes only if what the queue's writes notify reaches it.
    """

    def __init__(
        self, alias: str, queue_name: str, sender_alias: str | None = None
    ) -> None:
        self.alias = alias
        self.sender_alias = sender_alias or alias
        self.queue_name = queue_name
        self.channel = channel(queue_name)
        self._connection: Any = None
        self._checked_at = 0.0
        self._retry_at = 0.0
        self._delay = RECONNECT_DELAYS[0]
        self._failing = False
        #: The probe did not reach a connection that LISTENed (warned once).
        self._unreached = False

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
            connection = self._open()
            try:
                # Probed first: a connection the probe does not reach leaves
                # no LISTEN on the queue's channel behind in a pooled server
                # connection.
                reached = self._probe(connection)
                if reached:
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
        if not reached:
            with contextlib.suppress(Exception):  # it is of no use either way
                connection.close()
            self._unreachable()
            return False
        if self._failing or self._unreached:
            logger.warning("Listening for new messages on %r again", self.alias)
        self._unreached = False
        self._connection = connection
        self._checked_at = time.monotonic()
        self._failing = False
        self._delay = RECONNECT_DELAYS[0]
        return True

    def _open(self, alias: str | None = None) -> Any:
        """A new autocommit connection to the database ``alias`` (the
        listening one by default), which never prepares statements on the
        server."""
        import psycopg

        params = connections[alias or self.alias].get_connection_params()
        params["prepare_threshold"] = None
        return psycopg.connect(**params, autocommit=True)

    def _probe(self, connection: Any) -> bool:
        """Whether a NOTIFY sent from another connection reaches
        ``connection`` within :data:`PROBE_TIMEOUT` seconds, on a channel of
        its own (no consumer of the queue is woken by it).

        The NOTIFY goes through this thread's Django connection to
        ``sender_alias``, which is open already in a consumer, unless it is
        inside a transaction (the NOTIFY would wait for its commit): then
        through a connection of its own. The probe's channel stays listened to on a
        connection that passes: nothing sends on it again.
        """
        probe = f"djqueue_probe_{uuid.uuid4().hex}"
        connection.execute(f'LISTEN "{probe}"')
        django_connection = connections[self.sender_alias]
        if django_connection.in_atomic_block:
            with self._open(self.sender_alias) as sender:
                sender.execute("SELECT pg_notify(%s, '')", [probe])
        else:
            with django_connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [probe])
        deadline = time.monotonic() + PROBE_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            for notify in connection.notifies(timeout=left, stop_after=1):
                if notify.channel == probe:
                    return True
        return False

    def _unreachable(self) -> None:
        """Poll for :data:`PROBE_RETRY` seconds: notifications do not reach
        a connection of ``alias`` (warned the first time only)."""
        self._retry_at = time.monotonic() + PROBE_RETRY
        if not self._unreached:
            if self.sender_alias == self.alias:
                why = (
                    "it goes through a pooler in transaction mode, such as "
                    "PgBouncer with pool_mode = transaction"
                )
            else:
                why = (
                    f"it is not the database of {self.sender_alias!r}, or it "
                    "goes through a pooler in transaction mode, such as "
                    "PgBouncer with pool_mode = transaction"
                )
            logger.warning(
                "Notifications do not reach a connection that LISTENs on "
                "database %r: %s. Consumers of queue %r poll instead, and try "
                "again every %d seconds; set the queue's "
                "OPTIONS['LISTEN_CONNECTION'] to a database alias that "
                "connects to its PostgreSQL database directly to be woken at "
                "once",
                self.alias,
                why,
                self.queue_name,
                PROBE_RETRY,
            )
        self._unreached = True

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
