"""djqueue: background work for Django.

Decorate a function in an app's ``commands.py`` with :func:`queue_command`;
calling it enqueues a message and returns a :class:`Result` at once;
``manage.py run_queue`` runs the messages.
"""

from .command_options import CommandOptions
from .context import current_message
from .decorators import QueueCommand, queue_command
from .exceptions import (
    CommandFailed,
    CommandNotFound,
    DjqueueError,
    DuplicateCommand,
    InvalidOption,
    MessageNotFound,
    ResultExpired,
    ResultTimeout,
    SerializationError,
    UnknownQueue,
)
from .message import Message
from .queues import get_queue, queue_names
from .registry import autodiscover, registry
from .result import Result
from .retries import ExponentialBackoff, Retry
from .states import State

__version__ = "0.1.0.dev0"

__all__ = [
    "CommandFailed",
    "CommandNotFound",
    "CommandOptions",
    "DjqueueError",
    "DuplicateCommand",
    "ExponentialBackoff",
    "InvalidOption",
    "Message",
    "MessageNotFound",
    "QueueCommand",
    "Result",
    "ResultExpired",
    "ResultTimeout",
    "Retry",
    "SerializationError",
    "State",
    "UnknownQueue",
    "autodiscover",
    "current_message",
    "get_queue",
    "queue_command",
    "queue_names",
    "registry",
]
