"""An opt-in pickle serializer for arguments JSON cannot carry.

Decoding pickle runs code, so it is only safe because every payload is signed
and verified first, and a consumer accepts pickled messages only when a queue
is configured with this serializer. Model instances are pickled whole: the
worker sees them as they were at enqueue time, not fresh from the database.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from ...exceptions import DecodeError, SerializationError
from .base import BaseSerializer


class PickleSerializer(BaseSerializer):
    """Base64 text of a pickle; anything pickle-able travels."""

    name = "pickle"

    def dumps(self, value: Any) -> str:
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise SerializationError(f"it cannot be pickled ({exc}).") from exc
        except RecursionError:
            # pickle follows references itself (a value that contains itself
            # is fine) but recurses once per level of nesting.
            raise SerializationError(
                "it nests containers too deeply to be pickled."
            ) from None
        return base64.b64encode(data).decode("ascii")

    def loads(self, text: str) -> Any:
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
            return pickle.loads(data)
        except Exception as exc:  # unpickling can raise anything
            raise DecodeError(f"the payload is not a valid pickle: {exc}") from exc
