"""What a busy queue does to its PostgreSQL table, read from the server.

``pg_stat_user_tables`` gives the live and dead row versions, the updates
(and how many were HOT: they added no index entry) and the vacuums;
``pg_relation_size`` and ``pg_indexes_size`` the bytes of the table's heap
and of all its indexes. The activity counters are flushed by each backend
at the end of a transaction, at most once a second (PostgreSQL 15), so a
sample lags the table by about that much.
"""

from __future__ import annotations

STATS = (
    "SELECT n_live_tup, n_dead_tup, n_tup_ins, n_tup_upd, n_tup_hot_upd, "
    "n_tup_del, autovacuum_count, autoanalyze_count, "
    "pg_relation_size(relid), pg_indexes_size(relid) "
    "FROM pg_stat_user_tables WHERE relname = %s"
)
FIELDS = (
    "live", "dead", "inserted", "updated", "hot_updated", "deleted",
    "autovacuums", "autoanalyzes", "table_bytes", "index_bytes",
)  # fmt: skip


def sample(conn, table: str) -> dict[str, int]:
    """The table's counters and sizes now (``conn`` in autocommit mode: a
    sample must not hold a snapshot itself)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(STATS, (table,)).fetchone()
    return dict(zip(FIELDS, row, strict=True))


def reset(conn, table: str) -> None:
    """Zero the table's activity counters (sizes are the files' own)."""
    conn.execute("SELECT pg_stat_reset_single_table_counters(%s::regclass)", (table,))


def settings(conn, table: str) -> list[str]:
    """The table's own storage parameters (``fillfactor=…``, autovacuum's)."""
    row = conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", (table,)
    ).fetchone()
    return list(row[0] or [])


def xmin_held(conn) -> int:
    """Open a transaction on ``conn`` that takes a transaction id and stays
    open: the xmin horizon of its database cannot pass it, so no vacuum
    removes a row version deleted after it began. Returns its id."""
    conn.execute("BEGIN")
    return conn.execute("SELECT txid_current()").fetchone()[0]
