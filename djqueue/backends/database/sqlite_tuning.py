"""Fast SQLite as installed: djqueue tunes the connections to the SQLite
databases that hold a ``DatabaseQueue``.

With the settings ``startproject`` writes, SQLite keeps a rollback journal
and syncs the disk at every commit, so every enqueue, claim and
acknowledgement waits for the disk; and a transaction begins deferred, so
one that reads before it writes fails at once with "database is locked"
when a consumer committed in between. On each new connection to such a
database, unless ``QUEUE_SQLITE_TUNING`` is False, djqueue sets what the
database's ``OPTIONS`` leave unset:

* ``PRAGMA journal_mode=WAL`` (stored in the file), and then
  ``PRAGMA synchronous=NORMAL``, which in WAL mode syncs at checkpoints, not
  at every commit: safe against crashes of the application, while a power
  loss may undo the last commits;
* transactions that begin ``IMMEDIATE``, taking the write lock at once,
  waiting for it rather than failing;
* a busy timeout of 20 seconds instead of 5.

Every other database, and every setting the ``OPTIONS`` give (a
``journal_mode`` or ``synchronous`` in ``init_command``,
``transaction_mode``, ``timeout``), is left as it is. ``manage.py check``
warns (``djqueue.W010``) and ``run_queue`` logs at start-up what to add
when a queue's database stays on the slow path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

import dataclasses
import logging
import re

from django.core import checks
from django.db import DatabaseError, connections

from ...conf import settings
from .aliases import queue_aliases

logger = logging.getLogger("djqueue.sqlite")

BUSY_TIMEOUT = 20
RECOMMENDED_OPTIONS = (
    '{"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", '
    '"transaction_mode": "IMMEDIATE", "timeout": 20}'
)
_SYNC_MODES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclasses.dataclass(frozen=True)
class Tuning:
    """What djqueue sets on a connection: each part the OPTIONS leave unset."""

    journal_mode: bool
    synchronous: bool
    transaction_mode: bool
    timeout: bool

    @classmethod
    def of(cls, settings_dict: dict[str, Any]) -> Tuning:
        options = settings_dict.get("OPTIONS") or {}
        init_command = options.get("init_command") or ""
        return cls(
            journal_mode=_pragma(init_command, "journal_mode") is None,
            synchronous=_pragma(init_command, "synchronous") is None,
            transaction_mode="transaction_mode" not in options,
            timeout="timeout" not in options,
        )


def _pragma(init_command: str, name: str) -> str | None:
    """The value ``init_command`` gives the pragma ``name``, if it sets it."""
    found = re.search(
        rf"\bpragma\s+(?:\w+\.)?{name}\s*[=(]\s*['\"]?(\w+)", init_command, re.I
    )
    return found.group(1).upper() if found else None


def _sqlite_files() -> dict[str, list[str]]:
    """:func:`queue_aliases` restricted to SQLite databases in files."""
    return {
        alias: queues
        for alias, queues in queue_aliases().items()
        if alias in connections.settings and _is_sqlite_file(connections[alias])
    }


def _is_sqlite_file(connection: BaseDatabaseWrapper) -> bool:
    # Only SQLite's wrapper has is_in_memory_db, and vendor is checked first.
    return connection.vendor == "sqlite" and not connection.is_in_memory_db()  # type: ignore[attr-defined]


def tune_connection(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    """Receive ``connection_created``: tune a new connection to a queue's
    SQLite database, as the module's docstring says."""
    if not _is_sqlite_file(connection) or not settings.QUEUE_SQLITE_TUNING:
        return
    if connection.alias not in queue_aliases():
        return
    tuning = Tuning.of(connection.settings_dict)
    if tuning.transaction_mode:
        # SQLite's wrapper has it (Django 5.1+); the stubs do not say so.
        connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    raw = connection.connection
    try:
        if tuning.timeout:
            raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")
        if tuning.journal_mode:
            mode = raw.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        else:
            mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        if tuning.synchronous and mode.lower() == "wal":
            raw.execute("PRAGMA synchronous = NORMAL")
    # Every wrapper holds its driver module; the stubs do not say so.
    except connection.Database.Error as exc:  # type: ignore[attr-defined]
        # The next connection tries again; this one works as configured.
        logger.warning(
            "Cannot tune the SQLite database %r; it stays as configured: %s",
            connection.alias,
            exc,
        )


def _slow_parts(journal: str, begin: str) -> list[str]:
    """What keeps a database with this journal mode and transaction mode
    on the slow path, in words."""
    slow = []
    if journal.upper() != "WAL":
        slow.append(
            f"a rollback journal (journal_mode={journal.upper()}: every "
            "enqueue, claim and acknowledgement waits for the disk)"
        )
    if begin.upper() == "DEFERRED":
        slow.append(
            "deferred transactions (one that reads before it enqueues fails "
            "with 'database is locked' when a consumer writes in between)"
        )
    return slow


def _configured(settings_dict: dict[str, Any]) -> tuple[str, str]:
    """The journal and transaction modes a database gets from its settings
    and djqueue's tuning (a file switched to WAL by hand is not seen)."""
    options = settings_dict.get("OPTIONS") or {}
    tuned = settings.QUEUE_SQLITE_TUNING
    journal = _pragma(options.get("init_command") or "", "journal_mode")
    if journal is None:
        journal = "WAL" if tuned else "DELETE"
    if "transaction_mode" in options:
        begin = options["transaction_mode"] or "DEFERRED"
    else:
        begin = "IMMEDIATE" if tuned else "DEFERRED"
    return journal, begin


def _advice(alias: str) -> str:
    advice = f"Add to DATABASES[{alias!r}]['OPTIONS']: {RECOMMENDED_OPTIONS}"
    if not settings.QUEUE_SQLITE_TUNING:
        return f"{advice}, or remove QUEUE_SQLITE_TUNING = False."
    return f"{advice}."


def check_databases() -> list[checks.CheckMessage]:
    """``djqueue.W010`` for each queue database that stays on the slow path."""
    warnings: list[checks.CheckMessage] = []
    for alias, queues in _sqlite_files().items():
        slow = _slow_parts(*_configured(connections[alias].settings_dict))
        if slow:
            warnings.append(
                checks.Warning(
                    f"The SQLite database {alias!r} of the queue(s) "
                    f"{', '.join(map(repr, queues))} uses {' and '.join(slow)}.",
                    hint=_advice(alias),
                    obj=queues[0],
                    id="djqueue.W010",
                )
            )
    return warnings


def log_databases(queue_names: Iterable[str]) -> None:
    """Log, at a consumer's start, how each SQLite database of the queues it
    consumes is set up, and what to add to its OPTIONS when it is slow."""
    for alias, queues in _sqlite_files().items():
        if not set(queues) & set(queue_names):
            continue
        connection = connections[alias]
        try:
            connection.ensure_connection()
            raw = connection.connection
            journal = raw.execute("PRAGMA journal_mode").fetchone()[0]
            sync = raw.execute("PRAGMA synchronous").fetchone()[0]
            timeout = raw.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
        except DatabaseError as exc:
            logger.debug("Cannot read the SQLite settings of %r: %s", alias, exc)
            continue
        # SQLite's wrapper has it (Django 5.1+); the stubs do not say so.
        begin = connection.transaction_mode or "DEFERRED"  # type: ignore[attr-defined]
        state = (
            f"journal_mode={journal.lower()}, synchronous="
            f"{_SYNC_MODES.get(sync, sync)}, transactions {begin}, "
            f"busy timeout {timeout:g}s"
        )
        slow = _slow_parts(journal, begin)
        if slow:
            logger.warning(
                "SQLite database %r: %s. It uses %s. %s",
                alias,
                state,
                " and ".join(slow),
                _advice(alias),
            )
        else:
            logger.info("SQLite database %r: %s", alias, state)
