"""The ``CONNECTION`` setting of a ``RedisQueue``, and the clients built from it.

redis-py is imported when a client is built, never at module import.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.module_loading import import_string

from . import cluster
from .sentinel import is_sentinel_form, sentinel_client, sentinel_connection_kwargs

DEFAULT_URL = "redis://127.0.0.1:6379/0"
#: A host name or IPv4 address: what the ``"host:port:db"`` form can carry.
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")


def connection_kwargs(connection: Any) -> dict[str, Any]:
    """Turn the ``CONNECTION`` setting into keyword arguments for redis-py.

    Accept ``""`` (the local default), the ``djutils.queue`` form
    ``"host:port:db"`` (a host name or IPv4 address as the host), a
    ``redis://``, ``rediss://`` or ``unix://`` URL, a dict of
    ``redis.Redis`` arguments (host, port, db, password, ssl,
    socket_timeout, ...), a Sentinel form (:mod:`.sentinel`) or the Redis
    Cluster form (:mod:`.cluster`), each returned as its dict form. Raise
    ``ValueError`` for anything else.
    """
    if is_sentinel_form(connection):
        return sentinel_connection_kwargs(connection)
    if cluster.is_cluster_form(connection):
        return cluster.cluster_kwargs(connection)
    if isinstance(connection, dict):
        return dict(connection)
    if not isinstance(connection, str):
        raise ValueError(
            f"a Redis CONNECTION must be a string or a dict, not {connection!r}"
        )
    text = connection.strip() or DEFAULT_URL
    if "://" in text:
        if not text.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{text!r} is not a redis://, rediss:// or unix:// URL")
        return {"url": text}
    host, _, rest = text.partition(":")
    port, _, db = rest.partition(":")
    try:
        kwargs = {
            "host": host or "127.0.0.1",
            "port": int(port or 6379),
            "db": int(db or 0),
        }
    except ValueError:
        kwargs = None
    if kwargs is None or not _HOST.fullmatch(str(kwargs["host"])):
        raise ValueError(f"{text!r} is neither a URL nor of the form 'host:port:db'")
    return kwargs


def make_client(connection: Any, factory: Any, prefix: str) -> Any:
    """Build the client of a queue: ``factory`` (a callable or dotted path)
    called with the connection's keyword arguments, or else a ``RedisCluster``
    for the cluster form (see :func:`.cluster.make_cluster_client`), or a
    ``redis.Redis`` that retries a lost connection three times with backoff
    and names its connections after ``prefix`` (for a Sentinel form, one on
    the master that asks the sentinels again on each new connection)."""
    kwargs = connection_kwargs(connection)
    if factory is not None:
        if isinstance(factory, str):
            factory = import_string(factory)
        return factory(**kwargs)
    if cluster.NODES_KEY in kwargs:
        return cluster.make_cluster_client(kwargs, prefix)
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    # Named, so CLIENT LIST shows which connections are djqueue's.
    kwargs.setdefault("client_name", f"djqueue-{prefix}")
    kwargs.setdefault("socket_connect_timeout", 5)
    kwargs.setdefault("socket_timeout", 30)
    kwargs.setdefault("health_check_interval", 30)
    kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=1.0, base=0.05), 3))
    kwargs.setdefault("retry_on_error", [redis.ConnectionError, redis.TimeoutError])
    if "sentinels" in kwargs:
        return sentinel_client(kwargs)
    url = kwargs.pop("url", None)
    if url is not None:
        return redis.Redis.from_url(url, **kwargs)
    return redis.Redis(**kwargs)
