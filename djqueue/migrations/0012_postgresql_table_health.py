"""On PostgreSQL, a message table that a busy queue bloats less.

Every state change of a message writes a new version of its row, and each
version adds an entry to every index that covers it. This migration makes
four of the table's indexes partial, so that they hold only the rows their
readers look for:

* ``djqueue_claim`` only ready rows (``state = 'queued'``): the claim's
  and the admin's queued list;
* ``djqueue_due`` only scheduled rows: the promotion of due messages and
  the admin's scheduled list;
* ``djqueue_expiry`` only rows with an expiry (finished ones);
* ``djqueue_unique_pending`` and ``djqueue_lock_held`` only rows with a
  unique key or a held lock key (rows without one never conflict), as
  unique indexes in place of the unique constraints of the same names.

A message that runs once and keeps its result then adds 8 index entries
(its three versions in the primary key and the command index, one in the
claim index, one in the expiry index) instead of 21. The names stay the
same, so Django's migration state, which still describes the full
indexes and constraints, names what the database has; a later migration
that drops or alters one of them on PostgreSQL has to say how (the two
unique ones are indexes now, not constraints).

It also gives the table an autovacuum of its own (see
``docs/deploying.rst``): one that comes after a fixed number of dead rows
rather than a fifth of the table (which, with a day of kept results, is
millions of rows) and is not throttled on this one table. It leaves the
``fillfactor`` alone: every state change writes an indexed column, so no
update of a message is a HOT update, and room kept free on each page only
made the table larger (44.6 MiB instead of 38.2 in the sustained run).

Other databases are left as they are: MySQL/MariaDB have no partial
indexes, and SQLite's table is rewritten for no gain. Reversible: the
reverse restores the full indexes, the constraints and the server's
defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import migrations

if TYPE_CHECKING:
    from django.apps.registry import Apps as StateApps
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor

TABLE = "djqueue_message"

#: (name, columns, predicate) of the partial indexes, created in place of
#: the full ones; the claim index keeps its columns and their order.
PARTIAL_INDEXES = [
    (
        "djqueue_claim",
        '"queue", "state", "suspect", "priority" DESC, "eta", "id"',
        "\"state\" = 'queued'",
    ),
    ("djqueue_due", '"state", "eta"', "\"state\" = 'scheduled'"),
    ("djqueue_expiry", '"expires_at"', '"expires_at" IS NOT NULL'),
]
#: (name, columns, predicate) of the unique indexes that replace the unique
#: constraints of the same name.
PARTIAL_UNIQUES = [
    ("djqueue_unique_pending", '"queue", "unique_key"', '"unique_key" IS NOT NULL'),
    ("djqueue_lock_held", '"queue", "lock_held"', '"lock_held" IS NOT NULL'),
]
#: The table's storage parameters on PostgreSQL.
STORAGE = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_vacuum_cost_delay": "0",
}


def forward_sql() -> list[str]:
    statements = []
    for name, columns, predicate in PARTIAL_INDEXES:
        statements += [
            f'DROP INDEX IF EXISTS "{name}"',
            f'CREATE INDEX "{name}" ON "{TABLE}" ({columns}) WHERE {predicate}',
        ]
    for name, columns, predicate in PARTIAL_UNIQUES:
        statements += [
            f'ALTER TABLE "{TABLE}" DROP CONSTRAINT IF EXISTS "{name}"',
            f'CREATE UNIQUE INDEX "{name}" ON "{TABLE}" ({columns}) WHERE {predicate}',
        ]
    options = ", ".join(f"{key} = {value}" for key, value in STORAGE.items())
    statements.append(f'ALTER TABLE "{TABLE}" SET ({options})')
    return statements


def reverse_sql() -> list[str]:
    statements = [f'ALTER TABLE "{TABLE}" RESET ({", ".join(STORAGE)})']
    for name, columns, _ in PARTIAL_UNIQUES:
        statements += [
            f'DROP INDEX IF EXISTS "{name}"',
            f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" UNIQUE ({columns})',
        ]
    for name, columns, _ in PARTIAL_INDEXES:
        statements += [
            f'DROP INDEX IF EXISTS "{name}"',
            f'CREATE INDEX "{name}" ON "{TABLE}" ({columns})',
        ]
    return statements


def _run(
    statements: Callable[[], list[str]],
) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """An operation that runs ``statements()`` on PostgreSQL only."""

    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements():
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("djqueue", "0011_command_index"),
    ]

    operations = [
        # The hint lets a router that routes by model keep it to the
        # database that holds the message table.
        migrations.RunPython(
            _run(forward_sql),
            _run(reverse_sql),
            hints={"model_name": "messagerecord"},
        ),
    ]
