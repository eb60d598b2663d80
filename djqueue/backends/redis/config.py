"""The system checks of a ``RedisQueue``'s settings (``djqueue.E020`` to
``djqueue.E023``)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from .connection import connection_kwargs

#: Seconds an inspection read waits for the server by default.
DEFAULT_INSPECT_TIMEOUT = 2.0


def config_errors(
    name: str, connection: Any, options: dict[str, Any]
) -> list[checks.CheckMessage]:
    """The errors of the queue ``name``'s ``OPTIONS`` and ``CONNECTION``, and
    of redis-py missing."""
    errors = prefix_errors(name, options) + inspect_timeout_errors(name, options)
    try:
        import redis  # noqa: F401
    except ImportError:
        errors.append(
            checks.Error(
                f"Queue {name!r} uses RedisQueue, but redis-py is not installed.",
                hint="pip install 'djqueue[redis]' (redis-py with hiredis).",
                id="djqueue.E020",
            )
        )
    try:
        connection_kwargs(connection)
    except ValueError as exc:
        errors.append(
            checks.Error(
                f"Queue {name!r} has a bad Redis CONNECTION: {exc}.",
                hint="Use 'host:port:db', a redis://, rediss:// or unix:// URL, "
                "a dict of redis.Redis arguments, for Sentinel a "
                "redis+sentinel://host:port[,host:port]/service_name[/db] URL "
                "or a dict with 'sentinels' and 'service_name', or for a Redis "
                "Cluster a redis+cluster://host:port[,host:port] URL "
                "(rediss+cluster:// for TLS) or a dict with 'cluster_nodes': "
                "[(host, port), ...].",
                id="djqueue.E021",
            )
        )
    return errors


def prefix_errors(name: str, options: dict[str, Any]) -> list[checks.CheckMessage]:
    """The system check of the ``PREFIX`` option (``djqueue.E022``)."""
    prefix = options.get("PREFIX", "djqueue")
    if isinstance(prefix, str) and prefix and not set(prefix) & set("{}"):
        return []
    return [
        checks.Error(
            f"Queue {name!r} has OPTIONS['PREFIX'] = {prefix!r}.",
            hint="Use a non-empty string without braces: djqueue adds "
            "the braces of the Redis Cluster hash tag itself.",
            id="djqueue.E022",
        )
    ]


def inspect_timeout_errors(
    name: str, options: dict[str, Any]
) -> list[checks.CheckMessage]:
    """The system check of the ``INSPECT_TIMEOUT`` option (``djqueue.E023``)."""
    timeout = options.get("INSPECT_TIMEOUT", DEFAULT_INSPECT_TIMEOUT)
    if (
        not isinstance(timeout, bool)
        and isinstance(timeout, (int, float))
        and 0 < timeout <= 60
    ):
        return []
    return [
        checks.Error(
            f"Queue {name!r} has OPTIONS['INSPECT_TIMEOUT'] = {timeout!r}.",
            hint="Use a number of seconds above 0 and at most 60.",
            id="djqueue.E023",
        )
    ]
