"""The Redis Cluster form of a ``RedisQueue``'s ``CONNECTION``, its client
(redis-py's ``redis.cluster.RedisCluster``), and what a queue reads of a
client that may be either kind.

The form is a ``redis+cluster://host:port[,host:port,...]`` URL
(``rediss+cluster://`` for TLS, with an optional ``user:password@``), or a
dict with ``cluster_nodes``, a list of ``(host, port)`` pairs, and any other
``RedisCluster`` keyword arguments. The nodes listed are where the client
starts: it learns the rest of the cluster from them.

A queue lives on one slot (every key is under its hash tag ``{prefix:name}``),
so each Lua program, pipeline and blocking call of a queue goes to the one
master that owns the slot. redis-py is imported when a client is built,
never at module import.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

#: The URL schemes of the cluster form, and whether each uses TLS.
SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
#: The key of the dict form that names it the cluster form.
NODES_KEY = "cluster_nodes"


def is_cluster_form(connection: Any) -> bool:
    """Whether ``connection`` is written in the cluster form (right or not)."""
    if isinstance(connection, dict):
        return NODES_KEY in connection
    return isinstance(connection, str) and (
        connection.strip().partition("://")[0] in SCHEMES
    )


def cluster_kwargs(connection: str | dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the cluster form ``connection``: its other
    ``RedisCluster`` arguments and ``cluster_nodes``, a list of ``(host,
    port)`` pairs. Raise ``ValueError`` for a malformed URL or node list."""
    if isinstance(connection, dict):
        kwargs = dict(connection)
        kwargs[NODES_KEY] = _checked_nodes(kwargs[NODES_KEY])
        if "db" in kwargs:
            raise ValueError("a Redis Cluster has no databases but 0: drop 'db'")
        return kwargs
    return _url_kwargs(connection.strip())


def _url_kwargs(url: str) -> dict[str, Any]:
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if "?" in netloc or "#" in netloc or (slash and path not in ("", "0")):
        raise ValueError(
            f"{url!r}: a {scheme}:// URL holds only user, password and nodes; "
            "give other RedisCluster arguments in the dict form"
        )
    credentials, at, hosts = netloc.rpartition("@")
    kwargs: dict[str, Any] = {}
    if at:
        username, colon, password = credentials.partition(":")
        if username:
            kwargs["username"] = unquote(username)
        if colon:
            kwargs["password"] = unquote(password)
    if SCHEMES[scheme]:
        kwargs["ssl"] = True
    nodes = []
    for address in hosts.split(","):
        parts = urlsplit(f"//{address}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.username is not None:
            raise ValueError(f"{url!r}: {address!r} is not of the form host:port")
        nodes.append((parts.hostname, port))
    kwargs[NODES_KEY] = nodes
    return kwargs


def _checked_nodes(nodes: Any) -> list[tuple[str, int]]:
    if isinstance(nodes, (list, tuple)) and nodes and all(map(_is_address, nodes)):
        return [(host, port) for host, port in nodes]
    raise ValueError(
        f"cluster_nodes must be a non-empty list of (host, port) pairs, not {nodes!r}"
    )


def _is_address(node: Any) -> bool:
    """Whether ``node`` is a ``(host, port)`` pair (a list from JSON too)."""
    return (
        isinstance(node, (list, tuple))
        and len(node) == 2
        and isinstance(node[0], str)
        and bool(node[0])
        and isinstance(node[1], int)
        and not isinstance(node[1], bool)
    )


def make_cluster_client(kwargs: dict[str, Any], prefix: str) -> Any:
    """A ``RedisCluster`` started from the nodes of ``kwargs``, with the
    defaults of the plain client that ``RedisCluster`` takes: named after
    ``prefix``, 5 seconds to connect, 30 for a reply, three retries with
    backoff (after each, it asks the cluster again which node owns a slot,
    so a command sent during a failover goes to the new master once the
    cluster has promoted it)."""
    from redis.backoff import ExponentialBackoff
    from redis.cluster import ClusterNode, RedisCluster
    from redis.retry import Retry

    kwargs = dict(kwargs)
    nodes = [
        ClusterNode(host, port)  # type: ignore[no-untyped-call]
        for host, port in kwargs.pop(NODES_KEY)
    ]
    kwargs.setdefault("client_name", f"djqueue-{prefix}")
    kwargs.setdefault("socket_connect_timeout", 5)
    kwargs.setdefault("socket_timeout", 30)
    kwargs.setdefault("retry", Retry(ExponentialBackoff(cap=1.0, base=0.05), 3))
    return RedisCluster(startup_nodes=nodes, **kwargs)


def is_cluster_client(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster (it has a map of nodes)."""
    return getattr(client, "nodes_manager", None) is not None


def connection_options(client: Any) -> dict[str, Any]:
    """The keyword arguments the connections of ``client`` are made with
    (empty for a client that does not say): its pool's for a plain client,
    those every node's pool is made with for a cluster client."""
    holder = getattr(client, "nodes_manager", None)
    if holder is None:
        holder = getattr(client, "connection_pool", None)
    options = getattr(holder, "connection_kwargs", None)
    return options if isinstance(options, dict) else {}


def keys_under(client: Any, base: str) -> list[Any]:
    """Every key of the cluster whose name starts with ``base + ":"``, the
    keys of one queue: read from the slot of ``base`` on the master that owns
    it, never by scanning every node's keys."""
    slot = client.keyslot(base)
    # Other queues' bases may share the slot: its keys are filtered.
    total = client.cluster_countkeysinslot(slot)
    if not total:
        return []
    start = f"{base}:".encode()
    return [
        key
        for key in client.cluster_get_keys_in_slot(slot, total)
        if (key if isinstance(key, bytes) else key.encode()).startswith(start)
    ]
