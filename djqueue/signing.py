"""Signatures over stored payloads and results.

Whoever can write to the queue's storage must not be able to make a worker
run code or run a command with arguments of their choosing. Every payload is
signed with a key derived from ``SECRET_KEY`` and verified, against
``SECRET_KEY`` and then each of ``SECRET_KEY_FALLBACKS``, before it is decoded.
The signature covers the message id, the command name and the serializer
name as well as the payload, so a signed payload cannot be replayed under
another command or decoded by another serializer.

Signatures are those of :class:`django.core.signing.Signer` (HMAC-SHA256
with a key derived from the salt and the secret), computed here with the
derived key cached, since they are made and checked for every message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from django.conf import settings
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes

from .exceptions import SignatureMismatch

PAYLOAD_SALT = "djqueue.payload"
RESULT_SALT = "djqueue.result"
_SEPARATOR = "\x1f"


def _signed_value(*parts: str) -> str:
    return _SEPARATOR.join(parts)


def _derive(salt: str, secret: str | bytes) -> bytes:
    """The HMAC key ``Signer(salt=salt)`` derives from ``secret``."""
    return hashlib.sha256(force_bytes(salt + "signer") + force_bytes(secret)).digest()


_payload_key = lru_cache(maxsize=16)(_derive)


def _signature(key: bytes, value: str) -> str:
    digest = hmac.digest(key, value.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_payload(message_id: str, command: str, serializer: str, payload: str) -> str:
    """Return the signature of a message's payload under the current key."""
    value = _signed_value(message_id, command, serializer, payload)
    return _signature(_payload_key(PAYLOAD_SALT, settings.SECRET_KEY), value)


def verify_payload(
    message_id: str, command: str, serializer: str, payload: str, signature: str
) -> None:
    """Raise ``SignatureMismatch`` unless ``signature`` matches the payload."""
    value = _signed_value(message_id, command, serializer, payload)
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        expected = _signature(_payload_key(PAYLOAD_SALT, secret), value)
        if constant_time_compare(signature, expected):
            return
    raise SignatureMismatch(
        "the payload's signature does not match: it was changed after it was "
        "enqueued, or it was signed with a SECRET_KEY that is neither the "
        "current one nor in SECRET_KEY_FALLBACKS"
    )


def sign_result(message_id: str, text: str) -> str:
    """Return ``text`` with a signature bound to ``message_id`` appended."""
    key = _derive(f"{RESULT_SALT}:{message_id}", settings.SECRET_KEY)
    return f"{text}:{_signature(key, text)}"


def unsign_result(message_id: str, signed: str) -> str:
    """Return the text of a signed result, or raise ``SignatureMismatch``."""
    text, separator, signature = signed.rpartition(":")
    if separator:
        salt = f"{RESULT_SALT}:{message_id}"
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            if constant_time_compare(
                signature, _signature(_derive(salt, secret), text)
            ):
                return text
    raise SignatureMismatch(
        f"the stored result of message {message_id} has a bad signature"
    )
