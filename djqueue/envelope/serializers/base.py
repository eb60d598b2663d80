"""The serializer interface."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...exceptions import DecodeError, SerializationError


class BaseSerializer:
    """Encode a call's arguments and a result as text, and decode them.

    ``name`` is stored with every message and must never change for a given
    format. ``loads`` is only ever called on text whose signature verified.
    """

    #: The short name stored with each message.
    name: str = ""

    def dumps(self, value: Any) -> str:
        raise NotImplementedError(
            "Subclasses of BaseSerializer must implement dumps()."
        )

    def loads(self, text: str) -> Any:
        raise NotImplementedError(
            "Subclasses of BaseSerializer must implement loads()."
        )

    def dumps_call(
        self,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        command: str,
        names: Sequence[str] = (),
    ) -> str:
        """Encode ``[args, kwargs]``; name the argument that cannot be encoded.

        ``names`` are the parameter names of the positional arguments, used
        only to word the error.
        """
        try:
            return self.dumps_pair([list(args), dict(kwargs)])
        except SerializationError as exc:
            raise SerializationError(
                f"Cannot enqueue {command}: {self._culprit(args, kwargs, names)} {exc} "
                "Pass a value this serializer supports (or a model instance, "
                "which is sent by reference), or change QUEUE_SERIALIZER."
            ) from exc

    def dumps_pair(self, pair: list[Any]) -> str:
        """Encode the ``[args, kwargs]`` pair of a call."""
        return self.dumps(pair)

    def loads_call(self, text: str) -> tuple[list[Any], dict[str, Any]]:
        """Decode what ``dumps_call`` produced into ``(args, kwargs)``.

        Raise ``DecodeError`` for anything but a pair of a list of positional
        arguments and a mapping of keyword arguments by name.
        """
        call = self.loads(text)
        if (
            not isinstance(call, (list, tuple))
            or len(call) != 2
            or not isinstance(call[0], (list, tuple))
            or not isinstance(call[1], dict)
            or not all(isinstance(name, str) for name in call[1])
        ):
            raise DecodeError(
                "the payload is not an [args, kwargs] pair: expected a list of "
                "two items, a list of positional arguments and an object of "
                f"keyword arguments by name, got {_shape(call)}"
            )
        return list(call[0]), call[1]

    def _culprit(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], names: Sequence[str]
    ) -> str:
        for index, value in enumerate(args):
            try:
                self.dumps(value)
            except SerializationError:
                name = f"{names[index]!r}" if index < len(names) else f"{index}"
                return f"argument {name} ({type(value).__name__}):"
        for key, value in kwargs.items():
            try:
                self.dumps(value)
            except SerializationError:
                return f"keyword argument {key!r} ({type(value).__name__}):"
        return "an argument:"


def _shape(value: Any) -> str:
    """Describe a decoded value's outline, never its content."""
    if isinstance(value, (list, tuple)):
        items = ", ".join(type(item).__name__ for item in value[:3])
        more = ", ..." if len(value) > 3 else ""
        return f"a {type(value).__name__} of {len(value)} item(s) ({items}{more})"
    return f"a {type(value).__name__}"
