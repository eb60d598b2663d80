"""Signatures over stored payloads and results.

Whoever can write to the queue's storage must not be able to make a worker
run code or run a command with arguments of their choosing. Every payload is
signed with a key derived from ``SECRET_KEY`` and verified, against
``SECRET_KEY`` and then each of ``SECRET_KEY_FALLBACKS``, before it is decoded.
The signature covers everything that decides which code runs and how: the
message id, the command name, the serializer name, the payload and the
message's options (retries, retry policy, result TTL, timeout, the
django.tasks backend). A signed payload cannot be replayed under another
command or id, decoded by another serializer, or run with other options.

Options are signed in a canonical JSON form (sorted keys, every number as a
float) that survives the storage's round trip: PostgreSQL's ``jsonb``
reorders keys and rewrites ``1e+20`` as ``100000000000000000000``.

Signatures are those of :class:`django.core.signing.Signer` (HMAC-SHA256
with a key derived from the salt and the secret), computed here with the
derived key cached, since they are made and checked for every message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes

from ..exceptions import SignatureMismatch

PAYLOAD_SALT = "djqueue.payload"
RESULT_SALT = "djqueue.result"
_SEPARATOR = "\x1f"


def _signed_value(*parts: str) -> str:
    return _SEPARATOR.join(parts)


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            raise SignatureMismatch(
                "the payload's signature does not match: the message's options "
                "hold a number too large for any signed message"
            ) from None
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    raise SignatureMismatch(
        "the payload's signature does not match: the message's options hold "
        f"a {type(value).__name__}, which no signed message holds"
    )


def canonical_options(options: Any) -> str:
    """Return the text of a message's options that their signature covers."""
    if not isinstance(options, dict):
        raise SignatureMismatch(
            "the payload's signature does not match: the message's options "
            f"are a {type(options).__name__}, not an object"
        )
    return json.dumps(
        _canonical(options), sort_keys=True, separators=(",", ":"), allow_nan=True
    )


def _derive(salt: str, secret: str | bytes) -> bytes:
    """The HMAC key ``Signer(salt=salt)`` derives from ``secret``."""
    return hashlib.sha256(force_bytes(salt + "signer") + force_bytes(secret)).digest()


_payload_key = lru_cache(maxsize=16)(_derive)


def _signature(key: bytes, value: str) -> str:
    digest = hmac.digest(key, value.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_payload(
    message_id: str,
    command: str,
    serializer: str,
    payload: str,
    *,
    options: dict[str, Any],
) -> str:
    """Return the signature of a message's payload and options under the
    current key."""
    signer = payload_signer(canonical_options(options))
    return signer(message_id, command, serializer, payload)


def payload_signer(canonical: str) -> Callable[[str, str, str, str], str]:
    """Return ``sign(message_id, command, serializer, payload)``, which does
    what :func:`sign_payload` does for messages whose options have the
    :func:`canonical_options` text ``canonical``, with the current key
    looked up once."""
    key = _payload_key(PAYLOAD_SALT, settings.SECRET_KEY)

    def sign(message_id: str, command: str, serializer: str, payload: str) -> str:
        value = _signed_value(message_id, command, serializer, payload, canonical)
        return _signature(key, value)

    return sign


def verify_payload(
    message_id: str,
    command: str,
    serializer: str,
    payload: str,
    signature: str,
    *,
    options: Any,
) -> None:
    """Raise ``SignatureMismatch`` unless ``signature`` matches the payload
    and the options."""
    value = _signed_value(
        message_id, command, serializer, payload, canonical_options(options)
    )
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        expected = _signature(_payload_key(PAYLOAD_SALT, secret), value)
        if constant_time_compare(signature, expected):
            return
    raise SignatureMismatch(
        "the payload's signature does not match: the message (its payload, "
        "command, id or options) was changed after it was enqueued, or it was "
        "signed with a SECRET_KEY that is neither the current one nor in "
        "SECRET_KEY_FALLBACKS"
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
