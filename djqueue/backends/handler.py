"""The configured queues, built from settings the way Django builds caches.

:data:`queues` is a :class:`QueueHandler`: ``queues["emails"]`` is the
backend instance of the queue named ``emails``, built on first use from its
:class:`~djqueue.conf.QueueConfig` and kept for the life of the process.
Unlike Django's cache and database handlers it keeps one instance per name
for every thread, not one per thread: a backend instance is thread-safe
(its connections are per thread where the driver needs it, as Django's
database connections are, or pooled, as redis-py's are), and the consumer's
threads share its listeners and leases.

A setting whose name starts with ``QUEUE`` changing (``override_settings``
in tests) closes and forgets every built queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ..conf import QueueConfig, queue_configs, settings
from ..exceptions import UnknownQueue
from .base import BaseQueue


class QueueHandler:
    """The queues of ``QUEUES`` (or ``QUEUE_BACKEND``) by name."""

    def __init__(self) -> None:
        self._built: dict[str, BaseQueue] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> BaseQueue:
        """Return the backend of the queue ``name``, building it once.

        Raise ``UnknownQueue`` for a name that is not configured and
        ``ImproperlyConfigured`` for a configuration that cannot be built.
        """
        try:
            return self._built[name]
        except KeyError:
            pass
        with self._lock:
            if name not in self._built:
                self._built[name] = self.create_queue(name)
            return self._built[name]

    def __iter__(self) -> Iterator[str]:
        """The configured queue names, in settings order."""
        return iter(queue_configs())

    def all(self, initialized_only: bool = False) -> list[BaseQueue]:
        """Every configured queue's backend; with ``initialized_only``, only
        those already built (nothing is connected to)."""
        if initialized_only:
            with self._lock:
                return list(self._built.values())
        return [self[name] for name in self]

    def create_queue(self, name: str) -> BaseQueue:
        """Build the backend of the queue ``name`` from its configuration."""
        configs = queue_configs()
        if name not in configs:
            raise UnknownQueue(
                f"No queue is named {name!r}; the configured queues are "
                f"{sorted(configs)}. Add it to the QUEUES setting or use one of "
                "those."
            )
        config = configs[name]
        backend = load_backend(config.backend)
        return backend(name, config.connection, **backend_options(config))

    def close_all(self) -> None:
        """Close and forget every built queue; the next lookup builds anew."""
        with self._lock:
            for queue in self._built.values():
                queue.close()
            self._built.clear()


def backend_options(config: QueueConfig) -> dict[str, Any]:
    """The keyword options a backend is built with: the queue's OPTIONS,
    with the defaults global settings give for those it leaves out."""
    options = dict(config.options)
    options.setdefault("FAILED_TTL", settings.QUEUE_FAILED_TTL)
    return options


def load_backend(path: str) -> type[BaseQueue]:
    """Import the backend class at ``path``; raise ``ImproperlyConfigured``."""
    try:
        backend = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"Cannot import the queue backend {path!r}: {exc}"
        ) from exc
    if not (isinstance(backend, type) and issubclass(backend, BaseQueue)):
        raise ImproperlyConfigured(f"{path!r} is not a subclass of BaseQueue.")
    return backend


#: The process's queues.
queues = QueueHandler()


def get_queue(name: str = "default") -> BaseQueue:
    """Return the backend instance of the queue ``name`` (``queues[name]``).

    Raise ``UnknownQueue`` for a name that is not configured and
    ``ImproperlyConfigured`` for a configuration that cannot be built.
    """
    return queues[name]


def queue_names() -> list[str]:
    """Return the names of every configured queue, in settings order."""
    return list(queues)


def reset_queues(**kwargs: Any) -> None:
    """Forget built queues, so the next lookup reads the settings again.

    Connected to ``setting_changed``: a ``QUEUE*`` setting changing resets.
    """
    if kwargs.get("setting", "QUEUE").startswith("QUEUE"):
        queues.close_all()


setting_changed.connect(reset_queues)
