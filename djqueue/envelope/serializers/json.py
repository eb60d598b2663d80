"""The default serializer: JSON with the types Django code passes around.

Besides JSON's own types it round-trips datetimes, dates, times, timedeltas,
``Decimal``, ``UUID``, tuples, sets, bytes, dicts with non-string keys, and
model instances, which travel *by reference* (app label, model, primary key,
database) and are loaded fresh when decoded. Decoding never runs code beyond
that database lookup.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import apps
from django.db import models

from ...exceptions import DecodeError, ObjectGone, SerializationError
from .base import BaseSerializer

TAG = "__djq__"
_PLAIN = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
#: How deep containers may nest in one value. A value that contains itself
#: nests without end, and decoding must never exhaust a worker's stack.
MAX_DEPTH = 100


def encode(value: Any, depth: int = 0) -> Any:
    """Return ``value`` as JSON-compatible data, tagging the richer types;
    raise ``SerializationError`` past :data:`MAX_DEPTH` levels."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if depth == MAX_DEPTH:
        raise SerializationError(
            f"it nests containers more than {MAX_DEPTH} levels deep, or contains "
            "itself."
        )
    depth += 1
    if kind is list:
        return [encode(item, depth) for item in value]
    if kind is dict:
        if TAG not in value and all(type(key) is str for key in value):
            return {key: encode(item, depth) for key, item in value.items()}
        pairs = [[encode(k, depth), encode(v, depth)] for k, v in value.items()]
        return {TAG: "dict", "v": pairs}
    return _encode_rich(value, depth)


def _encode_rich(value: Any, depth: int) -> Any:
    if isinstance(value, models.Model):
        return _encode_instance(value)
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [encode(item, depth) for item in value]}
    if isinstance(value, datetime.datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, datetime.date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, datetime.time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, decimal.Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "v": [encode(item, depth) for item in value]}
    if isinstance(value, bytes):
        return {TAG: "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (str, int, float)):  # subclasses, such as enum members
        return _base_value(value)
    if isinstance(value, list):
        return [encode(item, depth) for item in value]
    if isinstance(value, dict):
        return encode(dict(value), depth - 1)
    raise SerializationError(
        f"values of type {type(value).__module__}.{type(value).__qualname__} "
        "cannot be encoded as JSON."
    )


def _base_value(value: str | int | float) -> str | int | float:
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base(value)
    raise AssertionError(value)  # pragma: no cover


def _encode_instance(instance: models.Model) -> dict[str, Any]:
    if instance.pk is None:
        raise SerializationError(
            f"the {type(instance).__name__} instance is not saved yet (its "
            "primary key is None); save it before enqueueing."
        )
    meta = instance._meta
    reference = {TAG: "model", "m": meta.label_lower, "pk": encode(instance.pk)}
    database = instance._state.db
    if database and database != "default":
        reference["db"] = database
    return reference


def _decode_instance(data: dict[str, Any]) -> models.Model:
    try:
        model = apps.get_model(data["m"])
    except (LookupError, ValueError) as exc:
        raise DecodeError(f"unknown model {data['m']!r} in the payload") from exc
    pk = data["pk"]
    try:
        instance: models.Model = model._base_manager.using(
            data.get("db", "default")
        ).get(pk=pk)
        return instance
    except model.DoesNotExist:
        raise ObjectGone(
            f"{model._meta.label} with primary key {pk!r} no longer exists "
            "(it was deleted after the message was enqueued)"
        ) from None


def _decode_tagged(data: dict[str, Any]) -> Any:
    tag = data.get(TAG)
    if tag is None:
        return data
    value: Any = data.get("v")
    if tag == "tuple":
        return tuple(value)
    if tag == "datetime":
        return datetime.datetime.fromisoformat(value)
    if tag == "date":
        return datetime.date.fromisoformat(value)
    if tag == "time":
        return datetime.time.fromisoformat(value)
    if tag == "timedelta":
        return datetime.timedelta(*value)
    if tag == "decimal":
        return decimal.Decimal(value)
    if tag == "uuid":
        return uuid.UUID(value)
    if tag == "set":
        return set(value)
    if tag == "bytes":
        return base64.b64decode(value)
    if tag == "dict":
        return {_hashable(k): v for k, v in value}
    if tag == "model":
        return _decode_instance(data)
    raise DecodeError(f"unknown type tag {tag!r} in the payload")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


class JSONSerializer(BaseSerializer):
    """JSON text with tagged rich types; the default, and safe to decode."""

    name = "json"

    def dumps(self, value: Any) -> str:
        return _ENCODER.encode(encode(value))

    def dumps_call(
        self,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        command: str,
        names: Sequence[str] = (),
    ) -> str:
        # Most calls pass only JSON's own scalars: nothing to tag.
        if (
            all(type(value) in _PLAIN_TYPES for value in args)
            and all(type(value) in _PLAIN_TYPES for value in kwargs.values())
            and TAG not in kwargs
        ):
            return _ENCODER.encode([list(args), kwargs])
        return super().dumps_call(args, kwargs, command, names)

    def dumps_pair(self, pair: list[Any]) -> str:
        # The pair and its two halves do not count towards MAX_DEPTH: each
        # argument may nest as deep as any value.
        return _ENCODER.encode(encode(pair, -2))

    def loads(self, text: str) -> Any:
        try:
            return json.loads(text, object_hook=_decode_tagged)
        except DecodeError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise DecodeError(f"the payload is not valid JSON data: {exc}") from exc
