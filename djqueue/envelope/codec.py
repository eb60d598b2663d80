"""Read and write what a message carries: its call's arguments and its result.

Both sides use this: the caller's side decodes a result (``Result.get()``)
and the consumer's side decodes arguments and encodes results. A payload is
decoded only after its signature is verified, and only by the serializer
that encoded it, if a configured queue uses that serializer.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import DecodeError
from .message import Message
from .serializers import BaseSerializer, serializers_by_name
from .signing import sign_result, unsign_result, verify_payload


def message_serializer(message: Message) -> BaseSerializer:
    """The serializer that encoded ``message``; raise ``DecodeError`` if no
    configured queue uses it."""
    try:
        return serializers_by_name()[message.serializer]
    except KeyError:
        raise DecodeError(
            f"the message was encoded with the serializer {message.serializer!r}, "
            "which no configured queue uses; consumers refuse it"
        ) from None


def verify_message(message: Message) -> None:
    """Raise ``SignatureMismatch`` unless the message is as it was signed."""
    verify_payload(
        message.id,
        message.command,
        message.serializer,
        message.payload,
        message.signature,
        options=message.options,
    )


def decode_call_arguments(message: Message) -> tuple[list[Any], dict[str, Any]]:
    """Verify the payload's signature, then decode it into ``(args, kwargs)``."""
    verify_message(message)
    return message_serializer(message).loads_call(message.payload)


def encode_result(message: Message, value: Any) -> str:
    """Return the signed, serialized form of a command's return value."""
    return sign_result(message.id, message_serializer(message).dumps(value))


def decode_result(message: Message) -> Any:
    """Return the command's return value stored with a done message."""
    if message.result is None:
        return None
    return message_serializer(message).loads(unsign_result(message.id, message.result))
