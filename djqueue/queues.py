"""Named queues: backend instances built from settings, one per name."""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .backends.base import BaseQueue
from .conf import queue_configs
from .exceptions import UnknownQueue

_instances: dict[str, BaseQueue] = {}
_lock = threading.Lock()


def get_queue(name: str = "default") -> BaseQueue:
    """Return the backend instance of the queue ``name``.

    Raise ``UnknownQueue`` for a name that is not configured and
    ``ImproperlyConfigured`` for a configuration that cannot be built.
    """
    try:
        return _instances[name]
    except KeyError:
        pass
    with _lock:
        if name not in _instances:
            _instances[name] = _build(name)
        return _instances[name]


def queue_names() -> list[str]:
    """Return the names of every configured queue, in settings order."""
    return list(queue_configs())


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


def _build(name: str) -> BaseQueue:
    configs = queue_configs()
    if name not in configs:
        raise UnknownQueue(
            f"No queue is named {name!r}; the configured queues are "
            f"{sorted(configs)}. Add it to the QUEUES setting or use one of those."
        )
    config = configs[name]
    backend = load_backend(config.backend)
    return backend(name, config.connection, **config.options)


def reset_queues(**kwargs: Any) -> None:
    """Forget built queues, so the next lookup reads the settings again."""
    if kwargs.get("setting", "QUEUE").startswith("QUEUE"):
        with _lock:
            for queue in _instances.values():
                queue.close()
            _instances.clear()


setting_changed.connect(reset_queues)
