"""A queue's SQLite database with the settings ``startproject`` writes is
switched to WAL with IMMEDIATE transactions on connect; every other
database, and every setting its OPTIONS give, is left alone; the opt-out,
the check and ``run_queue``'s start-up say what to add when the fast path is
not taken; and a consumer and an enqueuing process share such a database
without "database is locked".

Each test builds its own SQLite files under ``tmp_path`` (whatever database
the session runs on) and registers them as extra aliases for the test.
"""

import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections, transaction
from django.test import override_settings

from djqueue import get_queue
from djqueue.checks import check_settings
from djqueue.models import MessageRecord
from djqueue.states import State
from testproject.demo import commands
from tests.processes import MANAGE, ConsumerProcess, wait_until

DATABASE_QUEUE = "djqueue.backends.database.DatabaseQueue"
ADVICE = (
    '"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", '
    '"transaction_mode": "IMMEDIATE", "timeout": 20'
)


def queues_on(alias):
    return override_settings(
        QUEUES={"default": {"BACKEND": DATABASE_QUEUE, "CONNECTION": alias}}
    )


@contextmanager
def sqlite_alias(alias, path, **options):
    """``alias`` in ``connections``, a SQLite file at ``path`` with these
    OPTIONS (none: what ``startproject`` writes), for the block only."""
    configured = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    if options:
        configured["OPTIONS"] = options
    connections.settings[alias] = connections.configure_settings(
        {"default": configured}
    )["default"]
    try:
        yield connections[alias]
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def read_back(path):
    """The journal mode stored in the file, read by a connection of its own."""
    with sqlite3.connect(path) as raw:
        return raw.execute("PRAGMA journal_mode").fetchone()[0]


def pragmas(connection):
    connection.ensure_connection()
    raw = connection.connection
    return {
        name: raw.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "busy_timeout")
    } | {"transaction_mode": connection.transaction_mode}


@pytest.fixture
def unblocked(django_db_blocker):
    with django_db_blocker.unblock():
        yield


pytestmark = pytest.mark.usefixtures("unblocked")


def test_queue_database_switches_to_wal_and_another_is_untouched(tmp_path):
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3") as queue_db,
        sqlite_alias("other_db", tmp_path / "other.sqlite3") as other_db,
        queues_on("queue_db"),
    ):
        assert pragmas(queue_db) == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "busy_timeout": 20000,
            "transaction_mode": "IMMEDIATE",
        }
        assert pragmas(other_db) == {
            "journal_mode": "delete",
            "synchronous": 2,  # FULL, SQLite's default
            "busy_timeout": 5000,  # Python's default
            "transaction_mode": None,
        }
    assert read_back(tmp_path / "queue.sqlite3") == "wal"
    assert read_back(tmp_path / "other.sqlite3") == "delete"


def test_settings_the_options_give_are_respected(tmp_path):
    explicit = {
        "init_command": "PRAGMA journal_mode=TRUNCATE",
        "transaction_mode": "DEFERRED",
        "timeout": 7,
    }
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3", **explicit) as queue_db,
        queues_on("queue_db"),
    ):
        assert pragmas(queue_db) == {
            "journal_mode": "truncate",
            "synchronous": 2,
            "busy_timeout": 7000,
            "transaction_mode": "DEFERRED",
        }


def test_wal_without_synchronous_gets_normal_only_where_unset(tmp_path):
    options = {"init_command": "PRAGMA synchronous=FULL"}
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3", **options) as queue_db,
        queues_on("queue_db"),
    ):
        found = pragmas(queue_db)
    assert (found["journal_mode"], found["synchronous"]) == ("wal", 2)


@override_settings(QUEUE_SQLITE_TUNING=False)
def test_opt_out_leaves_the_database_as_configured(tmp_path):
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3") as queue_db,
        queues_on("queue_db"),
    ):
        assert pragmas(queue_db)["journal_mode"] == "delete"
        assert queue_db.transaction_mode is None
    assert read_back(tmp_path / "queue.sqlite3") == "delete"


def test_no_warning_when_djqueue_tunes_the_database(tmp_path):
    with sqlite_alias("queue_db", tmp_path / "queue.sqlite3"), queues_on("queue_db"):
        assert [m.id for m in check_settings() if m.id == "djqueue.W010"] == []


@override_settings(QUEUE_SQLITE_TUNING=False)
def test_check_names_the_options_to_add_when_opted_out(tmp_path):
    with sqlite_alias("queue_db", tmp_path / "queue.sqlite3"), queues_on("queue_db"):
        (warning,) = [m for m in check_settings() if m.id == "djqueue.W010"]
    assert "'queue_db'" in warning.msg
    assert "journal_mode=DELETE" in warning.msg
    assert "deferred transactions" in warning.msg
    assert "DATABASES['queue_db']['OPTIONS']" in warning.hint
    assert ADVICE in warning.hint
    assert "QUEUE_SQLITE_TUNING = False" in warning.hint


@override_settings(QUEUE_SQLITE_TUNING=False)
def test_no_warning_when_the_options_give_the_fast_path(tmp_path):
    options = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3", **options),
        queues_on("queue_db"),
    ):
        assert [m.id for m in check_settings() if m.id == "djqueue.W010"] == []


def test_check_warns_about_an_explicit_rollback_journal(tmp_path):
    options = {"init_command": "PRAGMA journal_mode=DELETE"}
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3", **options),
        queues_on("queue_db"),
    ):
        (warning,) = [m for m in check_settings() if m.id == "djqueue.W010"]
    assert "journal_mode=DELETE" in warning.msg
    assert "deferred" not in warning.msg  # djqueue makes them IMMEDIATE


class Rollback(Exception):
    pass


def enqueue_then_roll_back(alias):
    with transaction.atomic(using=alias):
        commands.add(1, 2)
        raise Rollback


def test_message_written_in_a_rolled_back_transaction_does_not_exist(tmp_path):
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3") as queue_db,
        queues_on("queue_db"),
    ):
        call_command("migrate", "djqueue", database="queue_db", verbosity=0)
        queue_db.close()  # the next connection is tuned
        with pytest.raises(Rollback):
            enqueue_then_roll_back("queue_db")
        kept = commands.add(3, 4)
        assert pragmas(queue_db)["journal_mode"] == "wal"
        records = MessageRecord.objects.using("queue_db")
        assert list(records.values_list("id", flat=True)) == [uuid.UUID(kept.id)]


def test_ack_and_claim_is_one_transaction(tmp_path):
    """One commit for a worker's acknowledgement and next claim."""
    with (
        sqlite_alias("queue_db", tmp_path / "queue.sqlite3") as queue_db,
        queues_on("queue_db"),
    ):
        call_command("migrate", "djqueue", database="queue_db", verbosity=0)
        commands.add(1, 2)
        commands.add(3, 4)
        queue = get_queue()
        (first,) = queue.claim("worker", 30)
        statements = []
        queue_db.connection.set_trace_callback(statements.append)
        kept, leased = queue.ack_and_claim(first, None, 0, "worker", 30)
        queue_db.connection.set_trace_callback(None)
    assert kept
    assert len(leased) == 1
    writes = [s.split()[0].upper() for s in statements]
    assert writes[0] == "BEGIN"
    assert writes[-1] == "COMMIT"
    assert writes.count("COMMIT") == 1
    assert {"DELETE", "UPDATE"} <= set(writes)


def stock_env(path, tuning=True):
    return {
        "DJQUEUE_DB": "sqlite-stock",
        "DJQUEUE_DB_NAME": str(path),
        "DJQUEUE_BACKEND": "database",
        "DJQUEUE_SQLITE_TUNING": "1" if tuning else "0",
    }


def run_manage(path, *args, tuning=True):
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env={**os.environ, **stock_env(path, tuning)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("tuning", [True, False], ids=["tuned", "opted-out"])
def test_run_queue_logs_how_the_database_is_set_up(tmp_path, tuning):
    path = tmp_path / "stock.sqlite3"
    assert run_manage(path, "migrate", "-v0", tuning=False).returncode == 0
    done = run_manage(path, "run_queue", "--burst", "-v1", tuning=tuning)
    assert done.returncode == 0, done.stderr
    if tuning:
        assert read_back(path) == "wal"
        assert (
            "INFO djqueue.sqlite SQLite database 'default': journal_mode=wal, "
            "synchronous=NORMAL, transactions IMMEDIATE, busy timeout 20s"
        ) in done.stderr
        assert "djqueue.W010" not in done.stderr
    else:
        assert read_back(path) == "delete"
        assert (
            "WARNING djqueue.sqlite SQLite database 'default': journal_mode=delete, "
            "synchronous=FULL, transactions DEFERRED, busy timeout 5s"
        ) in done.stderr
        assert f"Add to DATABASES['default']['OPTIONS']: {{{ADVICE}}}" in done.stderr
        assert "djqueue.W010" in done.stderr


def test_consumer_and_enqueuer_share_a_stock_database_without_lock_errors(
    tmp_path,
):
    """The enqueuing side reads before it writes in each transaction, as a
    view does; under deferred transactions a consumer's commit in between
    makes that write fail at once with "database is locked"."""
    path = tmp_path / "stock.sqlite3"
    total = 400
    with sqlite_alias("queue_db", path) as queue_db, queues_on("queue_db"):
        call_command("migrate", database="queue_db", verbosity=0)
        queue_db.close()
        consumer = ConsumerProcess(tmp_path / "consumer.log", env=stock_env(path))
        try:
            records = MessageRecord.objects.using("queue_db")
            wait_until(
                lambda: " started: " in consumer.log(),
                60,
                "the consumer to start",
                consumer,
            )
            errors = []
            for number in range(total):
                try:
                    with transaction.atomic(using="queue_db"):
                        len(get_queue())  # a read first
                        commands.add(number, 1)
                except OperationalError as exc:
                    errors.append(str(exc))
            assert errors == []
            wait_until(
                lambda: records.filter(state=State.DONE).count() == total,
                120,
                "every message to be done",
                consumer,
            )
        finally:
            consumer.stop()
        assert consumer.process.returncode == 0, consumer.log()
        assert "locked" not in consumer.log()
        assert records.count() == total
        assert set(records.values_list("attempts", flat=True)) == {1}
