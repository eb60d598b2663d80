"""A ``DatabaseQueue`` on a database of its own (the ``queue`` alias of the
test settings), with djqueue's router: where the tables go, the system
check, enqueue and a real ``run_queue`` through it, the admin and
``queue_info`` reading it, and what becomes of the caller's transaction on
``default`` (docs/deploying.rst, "A queue database of its own")."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from djqueue import State, get_queue
from djqueue.backends.database.router import ROUTER_PATH, QueueRouter, check_routing
from djqueue.models import MessageRecord, PeriodicTick
from testproject.demo import commands

from .admin_helpers import ALL_PERMS, admin_url, staff_user
from .processes import MANAGE, ConsumerProcess

BACKEND = "djqueue.backends.database.DatabaseQueue"
BOTH = pytest.mark.django_db(databases=["default", "queue"], transaction=True)


def queues_on(*aliases: str, **options) -> dict:
    """QUEUES with a DatabaseQueue per alias, the first named ``default``."""
    names = ["default", *(f"q{index}" for index in range(1, len(aliases)))]
    return {
        name: {"BACKEND": BACKEND, "CONNECTION": alias, "OPTIONS": options}
        for name, alias in zip(names, aliases, strict=True)
    }


@pytest.fixture
def on_queue_database(settings):
    """The default queue on the ``queue`` database, with the router."""
    settings.QUEUES = queues_on("queue")
    settings.DATABASE_ROUTERS = [ROUTER_PATH]
    return get_queue()


def rows(alias: str) -> int:
    return MessageRecord.objects.using(alias).count()


# -- The router --------------------------------------------------------------


class ElsewhereRouter:
    """A project's router that claims djqueue's models for ``default``."""

    def db_for_write(self, model, **hints):
        return "default" if model._meta.app_label == "djqueue" else None

    def allow_migrate(self, db, app_label, **hints):
        return db == "default" if app_label == "djqueue" else None


def test_djqueue_migrates_on_the_queue_alias_only_and_nothing_else_does(settings):
    settings.QUEUES = queues_on("queue")
    router = QueueRouter()

    assert router.allow_migrate("queue", "djqueue", "messagerecord") is True
    assert router.allow_migrate("default", "djqueue", "messagerecord") is False
    assert router.allow_migrate("queue", "auth", "user") is False
    assert router.allow_migrate("default", "auth", "user") is None
    assert router.db_for_read(MessageRecord) == "queue"
    assert router.db_for_write(PeriodicTick) == "queue"


def test_queues_on_several_aliases_each_get_the_tables(settings):
    """Each queue keeps its tables in its own database; reads that name no
    database go to the first queue's."""
    settings.QUEUES = queues_on("default", "queue")
    router = QueueRouter()

    assert router.allow_migrate("default", "djqueue") is True
    assert router.allow_migrate("queue", "djqueue") is True
    assert router.allow_migrate("default", "auth") is None  # default is shared
    assert router.allow_migrate("queue", "auth") is False
    assert router.db_for_read(MessageRecord) == "default"


def test_without_a_database_queue_the_router_has_no_opinion(settings):
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "OPTIONS": {"PREFIX": "unused"},
        }
    }
    router = QueueRouter()

    assert router.allow_migrate("default", "djqueue") is None
    assert router.allow_migrate("queue", "auth") is None
    assert router.db_for_read(MessageRecord) is None


def test_relations_only_between_djqueue_rows_of_one_database():
    from django.contrib.auth.models import User

    router = QueueRouter()
    here, there = MessageRecord(), MessageRecord()
    here._state.db, there._state.db = "queue", "default"
    assert router.allow_relation(here, there) is False
    there._state.db = "queue"
    assert router.allow_relation(here, there) is True
    assert router.allow_relation(here, User()) is None


# -- The system check ----------------------------------------------------------


def check_ids() -> list[str]:
    return [message.id for message in check_routing()]


def test_a_queue_on_another_alias_without_the_router_is_warned(settings):
    settings.QUEUES = queues_on("queue")
    settings.DATABASE_ROUTERS = []

    [warning] = check_routing()

    assert warning.id == "djqueue.W011"
    assert "no QueueRouter is in DATABASE_ROUTERS" in warning.msg
    assert ROUTER_PATH in warning.hint
    assert "migrate --database=queue" in warning.hint


def test_the_router_silences_the_check(settings):
    settings.QUEUES = queues_on("queue")
    settings.DATABASE_ROUTERS = [ROUTER_PATH]
    assert check_ids() == []
    settings.QUEUES = queues_on("default")
    settings.DATABASE_ROUTERS = []
    assert check_ids() == []  # default needs no router


def test_tables_routed_elsewhere_are_an_error(settings):
    settings.QUEUES = queues_on("queue")
    settings.DATABASE_ROUTERS = [f"{__name__}.ElsewhereRouter", ROUTER_PATH]

    [error] = check_routing()

    assert error.id == "djqueue.E013"
    assert "keep djqueue's tables off it" in error.msg
    assert ROUTER_PATH in error.hint


def test_models_routed_to_a_database_without_queues_are_warned(settings):
    class WritesElsewhere:
        """Sends djqueue's writes to default, and lets migrations be."""

        db_for_write = ElsewhereRouter.db_for_write

    settings.QUEUES = queues_on("queue")
    settings.DATABASE_ROUTERS = [WritesElsewhere(), ROUTER_PATH]

    [warning] = check_routing()

    assert warning.id == "djqueue.W011"
    assert "send djqueue's models to 'default', which holds no" in warning.msg


def test_manage_py_check_reports_it(settings):
    settings.QUEUES = queues_on("queue")
    settings.DATABASE_ROUTERS = []
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "djqueue.W011" in out.getvalue()


# -- Running through it ------------------------------------------------------------


@BOTH
def test_enqueue_and_a_real_run_queue_use_the_queue_database(
    on_queue_database, tmp_path
):
    results = [commands.add(n, n) for n in range(5)]
    assert (rows("queue"), rows("default")) == (5, 0)

    proc = ConsumerProcess(
        tmp_path / "consumer.log",
        "--burst",
        env={
            "DJQUEUE_QUEUE_ALIAS": "queue",
            "DJQUEUE_QUEUE_DB_NAME": str(connections["queue"].settings_dict["NAME"]),
        },
    )
    try:
        assert proc.wait(timeout=60) == 0, proc.log()
    finally:
        proc.stop()

    for n, result in enumerate(results):
        result.refresh()
        assert (result.status, result.result) == (State.DONE, 2 * n), proc.log()
    assert rows("default") == 0
    totals = on_queue_database.command_totals()
    assert totals == {"testproject.demo.commands.add": (5, 0)}


@BOTH
def test_queue_info_and_the_admin_read_the_queue_database(
    on_queue_database, client, django_user_model
):
    result = commands.add(1, 2)
    [summary] = json.loads(_queue_info("--json"))
    assert summary["counts"][State.QUEUED] == 1

    client.force_login(staff_user(django_user_model, "ops", *ALL_PERMS))
    page = client.get(admin_url("message", "default", result.id))
    assert page.status_code == 200
    assert "testproject.demo.commands.add" in page.text
    cancelled = client.post(admin_url("action", "default", result.id, "cancel"))
    assert cancelled.status_code == 302
    assert on_queue_database.get(result.id).state == State.CANCELLED


def _queue_info(*args: str) -> str:
    out = StringIO()
    call_command("queue_info", *args, stdout=out)
    return out.getvalue()


# -- The caller's transaction on default ---------------------------------------------


@BOTH
def test_an_enqueue_inside_a_default_transaction_waits_for_its_commit(
    on_queue_database,
):
    with transaction.atomic():
        committed = commands.add(1, 1)
        assert rows("queue") == 0  # not yet: the transaction may roll back
        assert committed.status is None
    assert on_queue_database.get(committed.id).state == State.QUEUED

    with transaction.atomic():
        rolled_back = commands.add(2, 2)
        transaction.set_rollback(True)
    assert on_queue_database.get(rolled_back.id) is None
    assert rows("queue") == 1


@BOTH
def test_with_on_commit_false_a_rollback_on_default_keeps_the_message(settings):
    settings.QUEUES = queues_on("queue", ON_COMMIT=False)
    settings.DATABASE_ROUTERS = [ROUTER_PATH]

    with transaction.atomic():
        kept = commands.add(1, 1)
        assert rows("queue") == 1  # written at once, outside the transaction
        transaction.set_rollback(True)

    assert get_queue().get(kept.id).state == State.QUEUED


@BOTH
def test_an_enqueue_inside_a_transaction_on_the_queue_database_is_part_of_it(
    on_queue_database,
):
    with transaction.atomic(using="queue"):
        rolled_back = commands.add(1, 1)
        assert rows("queue") == 1
        transaction.set_rollback(True, using="queue")

    assert on_queue_database.get(rolled_back.id) is None


def test_supports_transactions_only_on_default(settings):
    settings.QUEUES = queues_on("default", "queue")
    assert get_queue("default").supports_transactions is True
    assert get_queue("q1").supports_transactions is False


# -- migrate ---------------------------------------------------------------------------


def test_migrate_puts_djqueue_on_the_queue_database_and_the_rest_on_default(
    tmp_path,
):
    """``migrate --database=queue`` then ``migrate``, on fresh SQLite files
    (the same on every database: SQLite alone, once)."""
    if connection.vendor != "sqlite":
        pytest.skip("migrate runs on fresh SQLite files, in the SQLite run")
    files = {alias: tmp_path / f"{alias}.sqlite3" for alias in ("default", "queue")}
    env = {
        "DJQUEUE_DB": "sqlite",
        "DJQUEUE_DB_NAME": str(files["default"]),
        "DJQUEUE_QUEUE_DB_NAME": str(files["queue"]),
        "DJQUEUE_QUEUE_ALIAS": "queue",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
    }
    for args in (["--database=queue"], []):
        done = subprocess.run(
            [sys.executable, str(MANAGE), "migrate", "-v0", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    tables = {alias: _tables(path) for alias, path in files.items()}
    assert {"djqueue_message", "djqueue_consumer", "djqueue_run_count"} <= tables[
        "queue"
    ]
    assert "djqueue_periodic_tick" in tables["queue"]
    assert not {t for t in tables["queue"] if not t.startswith("djqueue_")} - {
        "django_migrations"
    }
    assert "auth_user" in tables["default"]
    assert not {t for t in tables["default"] if t.startswith("djqueue_")}


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as database:
        found = database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in found if not name.startswith("sqlite_")}
