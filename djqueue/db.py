"""Database connections in a consumer, handled as Django handles them per
request, except that a consumer is one long request: a connection is kept
across messages until it is broken or older than ``CONN_MAX_AGE``."""

from __future__ import annotations

from django.db import connections


def close_old_connections() -> None:
    """Close this thread's database connections that are broken, or older
    than their ``CONN_MAX_AGE`` when it is above 0.

    Django closes a connection at the end of every request when
    ``CONN_MAX_AGE`` is 0, its default. Closing it after every message would
    make each message pay for a new connection, so a consumer keeps it
    then, as with ``CONN_MAX_AGE = None``; ``CONN_HEALTH_CHECKS`` and the
    other checks of :func:`django.db.close_old_connections` still apply.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.settings_dict["CONN_MAX_AGE"]:
            connection.close_at = None
        connection.close_if_unusable_or_obsolete()
