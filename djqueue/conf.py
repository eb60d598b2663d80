"""djqueue's settings, read in one place, each with its documented default.

Values are read from ``django.conf.settings`` at access time, never at import
time, so ``override_settings`` works in tests. :func:`queue_configs` turns the
flat ``djutils.queue`` form or the ``QUEUES`` dict form into one mapping of
queue name to :class:`QueueConfig`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar, overload

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

DEFAULT_QUEUE = "default"
DATABASE_BACKEND = "djqueue.backends.database.DatabaseQueue"

T = TypeVar("T")


class Setting(Generic[T]):
    """One of djqueue's settings: read from ``django.conf.settings`` on first
    access, with its documented default when the project leaves it unset.

    A non-data descriptor: the value read is kept in the instance's
    ``__dict__``, which later reads find first, until a setting changes.
    """

    def __init__(self, default: T) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: QueueSettings, owner: type) -> T: ...

    def __get__(self, instance: QueueSettings | None, owner: type) -> T | Setting[T]:
        if instance is None:
            return self
        value: T = getattr(django_settings, self.name, self.default)
        instance.__dict__[self.name] = value
        return value


class QueueSettings:
    """djqueue's settings as typed attributes, each with its documented
    default (docs/settings.rst).

    Values are read at access time, never at import time, and remembered
    until a setting changes (``override_settings`` and the test runner's
    fixtures say so with ``setting_changed``): the hot paths read some for
    every message.
    """

    #: Flat form, as in djutils.queue: one queue named "default".
    QUEUE_BACKEND: Setting[str] = Setting(DATABASE_BACKEND)
    QUEUE_CONNECTION: Setting[Any] = Setting("")
    #: Dict form: {"name": {"BACKEND": ..., "CONNECTION": ..., "OPTIONS": {...}}}.
    QUEUES: Setting[dict[str, Any] | None] = Setting(None)
    #: Run commands inline at call time (tests, development).
    QUEUE_IMMEDIATE: Setting[bool] = Setting(False)
    #: Serializer of arguments and results: "json", "pickle" or a dotted path.
    QUEUE_SERIALIZER: Setting[str] = Setting("json")
    #: Seconds a result is kept after a message is done; 0 keeps nothing.
    QUEUE_RESULT_TTL: Setting[float] = Setting(24 * 60 * 60)
    #: Seconds a failed, cancelled or expired message is kept; None keeps it
    #: for ever.
    QUEUE_FAILED_TTL: Setting[float | None] = Setting(30 * 24 * 60 * 60)
    #: Seconds a worker holds a message before another may take it over.
    QUEUE_LEASE_SECONDS: Setting[float] = Setting(30)
    #: Seconds a consumer gathers acknowledgements of succeeded runs before
    #: it stores them in one call; 0 stores each at once.
    QUEUE_ACK_INTERVAL: Setting[float] = Setting(0.005)
    #: Times a message whose worker was lost is delivered again, at least; a
    #: command's own retries raise it.
    QUEUE_REDELIVERIES: Setting[int] = Setting(2)
    #: Bearer token a metrics scraper sends to read djqueue's metrics view;
    #: None lets only staff users with the view_message permission read it.
    QUEUE_METRICS_TOKEN: Setting[str | None] = Setting(None)
    #: Let djqueue switch the SQLite databases of DatabaseQueue queues to WAL
    #: mode with IMMEDIATE transactions, for what their OPTIONS leave unset.
    QUEUE_SQLITE_TUNING: Setting[bool] = Setting(True)
    #: Trace and measure enqueues and runs with OpenTelemetry (read once,
    #: when the app is ready; needs the opentelemetry extra).
    QUEUE_OPENTELEMETRY: Setting[bool] = Setting(False)
    #: Report enqueues, runs and periodic check-ins to Sentry (read once,
    #: when the app is ready; needs sentry-sdk).
    QUEUE_SENTRY: Setting[bool] = Setting(False)

    def __init__(self) -> None:
        setting_changed.connect(self._forget, weak=False)

    def __getattr__(self, name: str) -> Any:
        # Only for names that are not settings: each setting is a Setting.
        raise AttributeError(f"djqueue has no setting named {name}.")

    def _forget(self, **kwargs: Any) -> None:
        self.__dict__.clear()


#: Every setting's documented default, by name.
DEFAULTS: dict[str, Any] = {
    name: value.default
    for name, value in vars(QueueSettings).items()
    if isinstance(value, Setting)
}

QUEUE_KEYS = frozenset({"BACKEND", "CONNECTION", "OPTIONS", "SERIALIZER"})

settings = QueueSettings()


@dataclasses.dataclass(frozen=True)
class QueueConfig:
    """How one named queue is built: backend path, connection and options."""

    name: str
    backend: str
    connection: Any
    options: dict[str, Any]
    serializer: str


def queue_configs() -> dict[str, QueueConfig]:
    """Return the configured queues by name.

    Raise ``ImproperlyConfigured`` naming the setting that is wrong.
    """
    queues = settings.QUEUES
    if queues is None:
        return {
            DEFAULT_QUEUE: QueueConfig(
                name=DEFAULT_QUEUE,
                backend=settings.QUEUE_BACKEND,
                connection=settings.QUEUE_CONNECTION,
                options={},
                serializer=settings.QUEUE_SERIALIZER,
            )
        }
    if not isinstance(queues, dict) or not queues:
        raise ImproperlyConfigured(
            "QUEUES must be a non-empty dict mapping queue names to their "
            "configuration, for example "
            '{"default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"}}.'
        )
    return {name: _queue_config(name, entry) for name, entry in queues.items()}


def _queue_config(name: Any, entry: Any) -> QueueConfig:
    if not isinstance(name, str) or not name or len(name) > 100:
        raise ImproperlyConfigured(
            f"QUEUES key {name!r} is not a valid queue name: use a non-empty "
            "string of at most 100 characters."
        )
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"QUEUES[{name!r}] must be a dict.")
    unknown = set(entry) - QUEUE_KEYS
    if unknown:
        raise ImproperlyConfigured(
            f"QUEUES[{name!r}] has unknown keys {sorted(unknown)}; the known "
            f"keys are {sorted(QUEUE_KEYS)}."
        )
    options = entry.get("OPTIONS", {})
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"QUEUES[{name!r}]['OPTIONS'] must be a dict.")
    return QueueConfig(
        name=name,
        backend=entry.get("BACKEND", DATABASE_BACKEND),
        connection=entry.get("CONNECTION", ""),
        options=options,
        serializer=entry.get("SERIALIZER", settings.QUEUE_SERIALIZER),
    )
