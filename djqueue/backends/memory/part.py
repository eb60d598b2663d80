"""What the parts of ``MemoryQueue`` (leases, inspection, monitoring) use
of the queue they are mixed into, declared for the type checker, and the
copies they hand out.

To the type checker each part is a :class:`~djqueue.backends.base.BaseQueue`
with a ``store``; at run time it derives from ``object`` alone, so
``MemoryQueue`` and its method resolution order are what they would be
without this module.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

from ...envelope.message import Message

if TYPE_CHECKING:
    from ..base import BaseQueue
    from .store import MemoryStore

    class MemoryPart(BaseQueue):
        #: The messages of this queue's name and connection.
        store: MemoryStore

else:
    MemoryPart = object


def copied(message: Message) -> Message:
    """A copy of ``message`` that shares nothing mutable with it: callers
    never hold the stored message, and the store never holds theirs."""
    return dataclasses.replace(
        message,
        options=copy.deepcopy(message.options),
        attempt_errors=copy.deepcopy(message.attempt_errors),
    )
