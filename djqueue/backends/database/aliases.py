"""Which databases hold a ``DatabaseQueue``: the aliases the queues of
``QUEUES`` name in their ``CONNECTION``, read from the settings each time."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS

from ...conf import queue_configs


def queue_aliases() -> dict[str, list[str]]:
    """The aliases of the databases that hold a ``DatabaseQueue``, in the
    order of ``QUEUES``, each with the names of its queues.

    Settings that cannot be read (``djqueue.E001``) and backends that cannot
    be imported (``djqueue.E002``) count as no database.
    """
    from ..handler import load_backend
    from .queue import DatabaseQueue

    try:
        configs = queue_configs()
    except ImproperlyConfigured:
        return {}
    aliases: dict[str, list[str]] = {}
    for config in configs.values():
        try:
            backend = load_backend(config.backend)
        except ImproperlyConfigured:
            continue
        if issubclass(backend, DatabaseQueue):
            alias = config.connection or DEFAULT_DB_ALIAS
            aliases.setdefault(alias, []).append(config.name)
    return aliases
