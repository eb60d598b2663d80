"""Migration 0012: on PostgreSQL the message table's indexes hold only the
rows their readers look for, and the table has its own autovacuum
settings; the migration reverses to the full indexes and unique
constraints; other databases keep the table as it was."""

import importlib
import re
from datetime import timedelta

import pytest
from django.db import connection, transaction

from djqueue.backends.database import DatabaseQueue

from .factories import make_message

pytestmark = pytest.mark.django_db

health = importlib.import_module("djqueue.migrations.0012_postgresql_table_health")

PREDICATES = {
    "djqueue_claim": "((state)::text = 'queued'::text)",
    "djqueue_due": "((state)::text = 'scheduled'::text)",
    "djqueue_expiry": "(expires_at IS NOT NULL)",
    "djqueue_unique_pending": "(unique_key IS NOT NULL)",
    "djqueue_lock_held": "(lock_held IS NOT NULL)",
}


def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the partial indexes and storage parameters are PostgreSQL's")


def index_predicates() -> dict[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'djqueue_message'::regclass"
        )
        return dict(cursor.fetchall())


def unique_constraints() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'djqueue_message'::regclass AND contype = 'u'"
        )
        return {name for (name,) in cursor.fetchall()}


def storage_parameters() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'djqueue_message'::regclass"
        )
        options = cursor.fetchone()[0] or []
    return dict(option.split("=", 1) for option in options)


def test_postgresql_indexes_hold_only_the_rows_their_readers_look_for():
    _postgresql_only()
    predicates = index_predicates()
    for name, predicate in PREDICATES.items():
        assert predicates[name] == predicate, name
    # The primary key and the admin's command index cover every row.
    assert predicates["djqueue_message_pkey"] is None
    assert predicates["djqueue_command"] is None
    assert unique_constraints() == set()
    assert storage_parameters() == health.STORAGE


def test_the_migration_reverses_to_full_indexes_and_unique_constraints():
    _postgresql_only()
    with transaction.atomic():
        with connection.cursor() as cursor:
            for sql in health.reverse_sql():
                cursor.execute(sql)
        predicates = index_predicates()
        assert all(predicates[name] is None for name in PREDICATES)
        assert unique_constraints() == {"djqueue_unique_pending", "djqueue_lock_held"}
        assert storage_parameters() == {}
        with connection.cursor() as cursor:
            for sql in health.forward_sql():
                cursor.execute(sql)
        assert index_predicates() == predicates | PREDICATES
        transaction.set_rollback(True)


def test_a_generic_plan_of_the_claim_reads_the_partial_ready_index():
    """The claim writes its state out: a plan made for any parameters (a
    prepared statement's) could not use an index of ready rows only."""
    _postgresql_only()
    queue = DatabaseQueue("health-test")
    for _ in range(3):
        queue.write(make_message(queue=queue.name))
    now = queue.now()
    sql, params = queue._claim_statement(
        "postgresql", "w", "token", now + timedelta(seconds=30), now, 1
    )
    numbered = iter(range(1, len(params) + 1))
    prepared = re.sub("%s", lambda _: f"${next(numbered)}", sql)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"PREPARE health_claim AS {prepared}")
        try:
            marks = ", ".join(["%s"] * len(params))
            cursor.execute(f"EXPLAIN EXECUTE health_claim({marks})", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE health_claim")
        transaction.set_rollback(True)
    assert "djqueue_claim" in plan, plan


def test_other_databases_keep_the_unique_constraints():
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL has partial unique indexes instead")
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "djqueue_message")
    for name in ("djqueue_unique_pending", "djqueue_lock_held"):
        assert found[name]["unique"], name
