"""The Sentinel form of a ``RedisQueue``'s ``CONNECTION``, and its client.

A queue on a Redis run by Sentinel names the sentinels and the service
(the master's name in the sentinels' configuration), never the master:
``redis+sentinel://host:port[,host:port...]/service_name[/db]`` (``rediss+``
for TLS to the master and to the sentinels; a query string may set the
timeouts of :data:`QUERY_ARGUMENTS`), or a dict with ``sentinels`` and
``service_name``. The client asks the sentinels for the master's address
whenever it opens a connection, so after a failover the first connection
error sends it to the new master; the Lua programs are then loaded again
there (the client's scripts answer NOSCRIPT by loading themselves).

redis-py is imported when a client is built, never at module import.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

#: The schemes of the URL form; ``rediss+`` asks for TLS.
SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
#: The port of a sentinel address given without one (Sentinel's own default).
DEFAULT_SENTINEL_PORT = 26379
#: What the URL form's query string may set, in seconds (other arguments of
#: the master's connections take the dict form).
QUERY_ARGUMENTS = ("socket_timeout", "socket_connect_timeout", "health_check_interval")
#: Keys of the dict form that go to ``redis.sentinel.Sentinel`` rather than to
#: the master's connections.
SENTINEL_ARGUMENTS = ("sentinel_kwargs", "min_other_sentinels", "force_master_ip")
#: Keys a Sentinel form cannot carry: the sentinels give the master's address.
_ADDRESS_KEYS = ("url", "host", "port", "unix_socket_path")
_ADDRESS = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9_.-]+))(?::(?P<port>\d+))?"
)


def is_sentinel_form(connection: Any) -> bool:
    """Whether ``connection`` is meant as a Sentinel form: a string with one
    of :data:`SCHEMES`, or a dict with a ``sentinels`` key."""
    if isinstance(connection, dict):
        return "sentinels" in connection
    return isinstance(connection, str) and connection.strip().startswith(SCHEMES)


def sentinel_connection_kwargs(connection: str | dict[str, Any]) -> dict[str, Any]:
    """Return the dict form of a Sentinel ``CONNECTION``: ``sentinels`` (a
    list of ``(host, port)``), ``service_name``, ``db`` and the other
    arguments of the master's connections (``sentinel_kwargs`` among them
    when given). Raise ``ValueError`` for a malformed one."""
    if isinstance(connection, str):
        return _from_url(connection.strip())
    kwargs = dict(connection)
    kwargs["sentinels"] = _addresses(kwargs.get("sentinels"))
    service_name = kwargs.get("service_name")
    if not isinstance(service_name, str) or not service_name:
        raise ValueError(
            "a Sentinel CONNECTION needs a 'service_name': the master's name "
            f"in the sentinels' configuration, not {service_name!r}"
        )
    db = kwargs.setdefault("db", 0)
    if isinstance(db, bool) or not isinstance(db, int) or db < 0:
        raise ValueError(f"the 'db' of a Sentinel CONNECTION is {db!r}, not a number")
    extra = kwargs.get("sentinel_kwargs")
    if extra is not None and not isinstance(extra, dict):
        raise ValueError(f"'sentinel_kwargs' must be a dict, not {extra!r}")
    given = [key for key in _ADDRESS_KEYS if key in kwargs]
    if given:
        raise ValueError(
            f"a Sentinel CONNECTION takes the master's address from the "
            f"sentinels; leave out {', '.join(map(repr, given))}"
        )
    return kwargs


def _from_url(url: str) -> dict[str, Any]:
    address = urlsplit(url)
    if address.fragment:
        raise ValueError(f"{url!r} has a fragment")
    hosts = address.netloc.rpartition("@")[2]
    path = [unquote(part) for part in address.path.split("/")[1:]]
    if len(path) > 1 and path[-1] == "":  # a trailing slash
        path = path[:-1]
    if not path or not path[0] or len(path) > 2:
        raise ValueError(f"{url!r} does not end in /service_name or /service_name/db")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"the db of {url!r} is {path[1]!r}, not a number")
    kwargs: dict[str, Any] = {
        "sentinels": _addresses(hosts.split(",")),
        "service_name": path[0],
        "db": int(path[1]) if len(path) == 2 else 0,
    }
    if address.username:
        kwargs["username"] = unquote(address.username)
    if address.password:
        kwargs["password"] = unquote(address.password)
    kwargs.update(_timeouts(url, address.query))
    if address.scheme.startswith("rediss"):
        kwargs["ssl"] = True
        kwargs["sentinel_kwargs"] = {"ssl": True}
    return kwargs


def _timeouts(url: str, query: str) -> dict[str, float]:
    """The :data:`QUERY_ARGUMENTS` of a URL's query string, as numbers."""
    values = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in QUERY_ARGUMENTS:
            raise ValueError(
                f"{url!r} has {name!r} in its query string, which takes only "
                f"{', '.join(QUERY_ARGUMENTS)}; give others in the dict form"
            )
        try:
            values[name] = float(value)
        except ValueError:
            raise ValueError(f"{name} in {url!r} is {value!r}, not seconds") from None
        if not 0 < values[name] < float("inf"):
            raise ValueError(f"{name} in {url!r} is {value!r}, not seconds")
    return values


def _addresses(sentinels: Any) -> list[tuple[str, int]]:
    """The sentinels as ``(host, port)`` pairs, from ``"host:port"`` strings
    or pairs; raise ``ValueError`` for an empty list or a bad address."""
    if isinstance(sentinels, (str, bytes)) or not isinstance(sentinels, (list, tuple)):
        raise ValueError(
            f"'sentinels' must be a list of (host, port) pairs, not {sentinels!r}"
        )
    if not sentinels:
        raise ValueError("a Sentinel CONNECTION names no sentinel")
    addresses = []
    for sentinel in sentinels:
        if isinstance(sentinel, str):
            match = _ADDRESS.fullmatch(sentinel.strip())
            if match is None:
                raise ValueError(f"{sentinel!r} is not a sentinel's host:port")
            host = match["ipv6"] or match["host"]
            addresses.append((host, int(match["port"] or DEFAULT_SENTINEL_PORT)))
            continue
        if (
            not isinstance(sentinel, (list, tuple))
            or len(sentinel) != 2
            or not isinstance(sentinel[0], str)
            or not sentinel[0]
            or isinstance(sentinel[1], bool)
            or not isinstance(sentinel[1], int)
        ):
            raise ValueError(f"{sentinel!r} is not a sentinel's (host, port)")
        addresses.append((sentinel[0], sentinel[1]))
    return addresses


def sentinel_client(kwargs: dict[str, Any]) -> Any:
    """A ``redis.Redis`` on the master of ``kwargs['service_name']``: each
    connection it opens asks the sentinels where the master is, and its
    ``close()`` closes its connections to the sentinels as well.

    ``kwargs`` is the dict form with the arguments of the master's
    connections (their timeouts and ``retry`` among them). The sentinels
    are asked with ``sentinel_kwargs``; timeouts it does not set are the
    master's ``socket_connect_timeout``, for connecting and for each reply,
    so a sentinel that is gone or hangs holds a connection that long, and
    is not retried: the next sentinel is asked, and the master's connection
    retries the round as it retries a lost connection.
    """
    from redis import sentinel
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    kwargs = dict(kwargs)
    sentinels = kwargs.pop("sentinels")
    service_name = kwargs.pop("service_name")
    options = {name: kwargs.pop(name) for name in SENTINEL_ARGUMENTS if name in kwargs}
    connect_timeout = kwargs.get("socket_connect_timeout")
    asking = {
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": connect_timeout,
        # A sentinel that does not answer is passed over for the next one;
        # the master's connection retries the whole round.
        "retry": Retry(NoBackoff(), 0),
    }
    options["sentinel_kwargs"] = {**asking, **(options.get("sentinel_kwargs") or {})}
    manager_type: Any = sentinel.Sentinel  # untyped in redis-py
    manager = manager_type(sentinels, **options)
    master, connection, tls_connection = _classes()
    return manager.master_for(
        service_name,
        redis_class=master,
        connection_class=tls_connection if kwargs.pop("ssl", False) else connection,
        **kwargs,
    )


@cache
def _classes() -> tuple[Any, Any, Any]:
    """The client class, and the connection classes without and with TLS."""
    import redis
    from redis.connection import SSLConnection
    from redis.sentinel import SentinelManagedConnection

    class SentinelMaster(redis.Redis):
        """A client of a Sentinel-run master that closes its connections to
        the sentinels when it closes."""

        def close(self) -> None:
            super().close()
            pool: Any = self.connection_pool
            pool.sentinel_manager.close()

    class MasterConnection(SentinelManagedConnection):
        """A connection that asks the sentinels where the master is each
        time it opens its socket. redis-py's own asks when the pool hands
        out a connection, but a command that retries reopens it at the
        address it had, which after a failover is the old master's."""

        def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
            self.host, self.port = self.connection_pool.get_master_address()
            super().connect_check_health(*args, **kwargs)

    class MasterTLSConnection(MasterConnection, SSLConnection):
        pass

    return SentinelMaster, MasterConnection, MasterTLSConnection
