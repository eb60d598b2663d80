"""Exceptions raised by djqueue.

Every error djqueue raises on purpose derives from :class:`DjqueueError`, so
callers can catch them all at once. Configuration errors are Django's own
:class:`~django.core.exceptions.ImproperlyConfigured` and are also reported by
``manage.py check``.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class DjqueueError(Exception):
    """Base class of every error djqueue raises on purpose."""


class SerializationError(DjqueueError, TypeError):
    """An argument or result cannot be encoded by the queue's serializer."""


class InvalidOption(DjqueueError, TypeError, ValueError):
    """A command option (given to ``@queue_command``, ``using()`` or the
    ``enqueue_*`` methods) is not valid; the text names it, and nothing is
    enqueued. Also a ``TypeError`` and a ``ValueError``, the errors Python
    raises for a wrong type and a wrong value. A stored message whose
    options a consumer cannot use goes to ``failed`` with this error's text
    as the reason."""


class UnstorableResult(SerializationError):
    """A command ran but its return value cannot be stored.

    Raised by djqueue (and by a command, ``from`` the error that says why)
    to fail the message at once, without a retry: running it again would
    repeat its side effects for an error that cannot go away.
    """


class WorkerLost(DjqueueError):
    """Reported, never raised: the error of an attempt whose worker was lost
    (its process died) while it ran."""


class CommandTimedOut(DjqueueError, TimeoutError):
    """Reported, never raised to a caller: the error of an attempt that went
    past its command's ``timeout``. A process worker kills such a run; an
    ``async def`` command's coroutine is cancelled, with any worker. The
    attempt counts as failed and is retried if the retry policy allows it
    (name this class in ``retry_on`` to retry timeouts only)."""


class DecodeError(DjqueueError):
    """A stored payload cannot be turned back into arguments or a result.

    The message that carried it goes to ``failed`` with this error's text as
    the reason.
    """


class SignatureMismatch(DecodeError):
    """A payload's signature does not verify with any configured secret key."""


class ObjectGone(DecodeError):
    """A model instance passed by reference no longer exists."""


class CommandNotFound(DjqueueError, LookupError):
    """No command is registered under the requested name."""


class DuplicateCommand(DjqueueError):
    """Two different functions were registered under one command name."""


class UnknownQueue(DjqueueError, LookupError):
    """A command or call names a queue that is not configured."""


class MessageNotFound(DjqueueError, LookupError):
    """The backend holds no message with the requested id."""


class ResultExpired(MessageNotFound):
    """The message existed but is no longer stored: it finished and its
    result was not kept (``result_ttl=0``) or has expired, or it was
    deleted."""


class CommandFailed(DjqueueError):
    """The command's last attempt raised; ``get()`` re-raises it as this."""

    def __init__(self, message_id: str, error: StrOrPromise) -> None:
        self.message_id = message_id
        self.error = error
        super().__init__(f"Message {message_id} failed: {error}")


class MessageExpired(CommandFailed):
    """The message was not started by its deadline (the ``expires`` option)
    and never ran; ``get()`` raises this. A ``CommandFailed``, so code that
    handles failures handles it too."""

    def __init__(self, message_id: str, error: StrOrPromise) -> None:
        self.message_id = message_id
        self.error = error
        DjqueueError.__init__(self, f"Message {message_id} {error}: it never ran.")


class ResultNotReady(DjqueueError):
    """:attr:`Result.value` was read while the message is still queued,
    scheduled or running: it has no value yet."""

    def __init__(self, message_id: str, state: StrOrPromise) -> None:
        self.message_id = message_id
        self.state = state
        super().__init__(f"Message {message_id} is still {state}: it has no value yet.")


class ResultTimeout(DjqueueError, TimeoutError):
    """``get(timeout=...)`` ran out of time before the message finished."""


def describe(exc: BaseException) -> str:
    """Return ``Type: text`` for an exception, as a failure reason."""
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def class_path(exc: BaseException) -> str:
    """The dotted path of the class of ``exc``."""
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


class InvalidProgress(DjqueueError, TypeError, ValueError):
    """A running command's progress or metadata cannot be stored: a value
    that is not JSON, a count out of range, or more than the size limit.
    Raised in the command by ``set_progress()`` or ``set_meta()``; like any
    exception, it fails the attempt only if the command does not catch it."""
