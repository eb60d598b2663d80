"""Serializers turn a call's arguments and a command's result into text.

They are looked up by the short name stored with each message, so a message
is always decoded by the serializer that encoded it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .base import BaseSerializer

BUILTIN_SERIALIZERS = {
    "json": "djqueue.envelope.serializers.json.JSONSerializer",
    "pickle": "djqueue.envelope.serializers.pickle.PickleSerializer",
}


@cache
def load_serializer(path: str) -> BaseSerializer:
    """Return the serializer for a short name or dotted path."""
    dotted = BUILTIN_SERIALIZERS.get(path, path)
    try:
        serializer_class = import_string(dotted)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"Cannot import the serializer {path!r}: {exc}. Use 'json', "
            "'pickle' or the dotted path of a BaseSerializer subclass."
        ) from exc
    serializer: BaseSerializer = serializer_class()
    return serializer


__all__ = [
    "BUILTIN_SERIALIZERS",
    "BaseSerializer",
    "load_serializer",
    "queue_serializer",
    "serializers_by_name",
]


@cache
def serializers_by_name() -> dict[str, BaseSerializer]:
    """Return the serializers consumers accept, by the name stored in messages.

    JSON is always accepted; others (pickle, custom ones) only when a queue is
    configured to use them.
    """
    from ...conf import queue_configs

    accepted = {"json": load_serializer("json")}
    for config in queue_configs().values():
        serializer = load_serializer(config.serializer)
        accepted[serializer.name] = serializer
    return accepted


@cache
def queue_serializer(queue: str) -> BaseSerializer:
    """Return the serializer the queue named ``queue`` encodes with."""
    from ...conf import queue_configs

    return load_serializer(queue_configs()[queue].serializer)


def _reset(**kwargs: Any) -> None:
    if kwargs["setting"].startswith("QUEUE"):
        serializers_by_name.cache_clear()
        queue_serializer.cache_clear()


setting_changed.connect(_reset)
