"""djqueue: background work for Django.

Decorate a function in an app's ``commands.py`` with :func:`queue_command`;
calling it enqueues a message and returns a :class:`Result` at once;
``manage.py run_queue`` runs the messages.
"""

from .backends.handler import get_queue, queue_names
from .commands.command import AsyncQueueCommand, QueueCommand, queue_command
from .commands.options import CommandOptions
from .commands.periodic import periodic_command
from .commands.registry import autodiscover, registry
from .commands.result import Result
from .context import current_message, set_meta, set_progress
from .envelope.message import Message
from .envelope.progress import Progress
from .envelope.retries import ExponentialBackoff, Retry
from .exceptions import (
    CommandFailed,
    CommandNotFound,
    DjqueueError,
    DuplicateCommand,
    InvalidOption,
    InvalidProgress,
    MessageExpired,
    MessageNotFound,
    ResultExpired,
    ResultNotReady,
    ResultTimeout,
    SerializationError,
    UnknownQueue,
)
from .states import State

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncQueueCommand",
    "CommandFailed",
    "CommandNotFound",
    "CommandOptions",
    "DjqueueError",
    "DuplicateCommand",
    "ExponentialBackoff",
    "InvalidOption",
    "InvalidProgress",
    "Message",
    "MessageExpired",
    "MessageNotFound",
    "Progress",
    "QueueCommand",
    "Result",
    "ResultExpired",
    "ResultNotReady",
    "ResultTimeout",
    "Retry",
    "SerializationError",
    "State",
    "UnknownQueue",
    "autodiscover",
    "current_message",
    "get_queue",
    "periodic_command",
    "queue_command",
    "queue_names",
    "registry",
    "set_meta",
    "set_progress",
]
