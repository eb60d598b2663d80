"""Signatures over stored payloads and results.

Whoever can write to the queue's storage must not be able to make a worker
run code or run a command with arguments of their choosing. Every payload is
signed with a key derived from ``SECRET_KEY`` and verified, against
``SECRET_KEY`` and then each of ``SECRET_KEY_FALLBACKS``, before it is decoded.
The signature covers the message id, the command name and the serializer
name as well as the payload, so a signed payload cannot be replayed under
another command or decoded by another serializer.
"""

from __future__ import annotations

from django.core import signing
from django.utils.crypto import constant_time_compare

from .exceptions import SignatureMismatch

PAYLOAD_SALT = "djqueue.payload"
RESULT_SALT = "djqueue.result"
_SEPARATOR = "\x1f"


def _signed_value(*parts: str) -> str:
    return _SEPARATOR.join(parts)


def sign_payload(message_id: str, command: str, serializer: str, payload: str) -> str:
    """Return the signature of a message's payload under the current key."""
    signer = signing.Signer(salt=PAYLOAD_SALT)
    return signer.signature(_signed_value(message_id, command, serializer, payload))


def verify_payload(
    message_id: str, command: str, serializer: str, payload: str, signature: str
) -> None:
    """Raise ``SignatureMismatch`` unless ``signature`` matches the payload."""
    signer = signing.Signer(salt=PAYLOAD_SALT)
    value = _signed_value(message_id, command, serializer, payload)
    for key in (signer.key, *signer.fallback_keys):
        if constant_time_compare(signature, signer.signature(value, key)):
            return
    raise SignatureMismatch(
        "the payload's signature does not match: it was changed after it was "
        "enqueued, or it was signed with a SECRET_KEY that is neither the "
        "current one nor in SECRET_KEY_FALLBACKS"
    )


def sign_result(message_id: str, text: str) -> str:
    """Return ``text`` with a signature bound to ``message_id`` appended."""
    return signing.Signer(salt=f"{RESULT_SALT}:{message_id}").sign(text)


def unsign_result(message_id: str, signed: str) -> str:
    """Return the text of a signed result, or raise ``SignatureMismatch``."""
    try:
        return signing.Signer(salt=f"{RESULT_SALT}:{message_id}").unsign(signed)
    except signing.BadSignature:
        raise SignatureMismatch(
            f"the stored result of message {message_id} has a bad signature"
        ) from None
