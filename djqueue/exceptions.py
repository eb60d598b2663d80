"""Exceptions raised by djqueue.

Every error djqueue raises on purpose derives from :class:`DjqueueError`, so
callers can catch them all at once. Configuration errors are Django's own
:class:`~django.core.exceptions.ImproperlyConfigured` and are also reported by
``manage.py check``.
"""


class DjqueueError(Exception):
    """Base class of every error djqueue raises on purpose."""


class SerializationError(DjqueueError, TypeError):
    """An argument or result cannot be encoded by the queue's serializer."""


class DecodeError(DjqueueError):
    """A stored payload cannot be turned back into arguments or a result.

    The message that carried it goes to ``failed`` with this error's text as
    the reason.
    """


class SignatureMismatch(DecodeError):
    """A payload's signature does not verify with any configured secret key."""


class ObjectGone(DecodeError):
    """A model instance passed by reference no longer exists."""


class InvalidOption(DjqueueError, TypeError, ValueError):
    """A command option has the wrong type or a value out of its range.

    Raised where options enter (``@queue_command``, ``using()``, the
    django.tasks ``OPTIONS``), so nothing is stored; a stored message whose
    options are wrong goes to ``failed`` with this error's text as the reason.
    It is a ``TypeError`` and a ``ValueError`` too, as Python's own checks
    of arguments are. ``option`` names the option.
    """

    def __init__(self, option: str, text: str):
        self.option = option
        super().__init__(text)


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

    def __init__(self, message_id, error):
        self.message_id = message_id
        self.error = error
        super().__init__(f"Message {message_id} failed: {error}")


class ResultTimeout(DjqueueError, TimeoutError):
    """``get(timeout=...)`` ran out of time before the message finished."""
