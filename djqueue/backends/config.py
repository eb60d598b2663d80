"""What every queue is configured with, whatever its backend.

:class:`~djqueue.backends.base.BaseQueue` derives from :class:`QueueConfig`:
a queue is built from its settings' ``name``, ``CONNECTION`` and
``OPTIONS``, reads the OPTIONS every backend shares (``FAILED_TTL``,
``ON_COMMIT``) into attributes, and reports what is wrong with them through
the system checks before any queue is built.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import checks

from ..conf import DEFAULTS


class QueueConfig:
    """A queue's name, connection and OPTIONS, and their system check."""

    # The OPTIONS keys this backend understands.
    option_names = frozenset({"FAILED_TTL", "ON_COMMIT"})

    def __init__(self, name: str, connection: Any = "", **options: Any) -> None:
        self.name = name
        self.connection = connection
        self.options = options
        failed_ttl = options.get("FAILED_TTL", DEFAULTS["QUEUE_FAILED_TTL"])
        #: For backends outside the database transaction: whether a write made
        #: inside ``transaction.atomic()`` waits for the commit (the default)
        #: or happens at once, even if the transaction later rolls back.
        self.defer_on_commit: bool = options.get("ON_COMMIT", True)
        #: How long failed, cancelled and expired messages are kept; None is
        #: for ever.
        self.failed_ttl: timedelta | None = (
            None if failed_ttl is None else timedelta(seconds=failed_ttl)
        )

    @classmethod
    def check_config(
        cls, name: str, connection: Any, options: dict[str, Any]
    ) -> list[checks.CheckMessage]:
        """Return system check messages about this queue's configuration.

        Subclasses extend the list; this checks the OPTIONS every backend
        shares and reports keys the backend does not know.
        """
        errors: list[checks.CheckMessage] = []
        unknown = set(options) - cls.option_names
        if unknown:
            errors.append(
                checks.Error(
                    f"Queue {name!r} has OPTIONS that {cls.__name__} does not "
                    f"know: {sorted(unknown)}.",
                    hint=f"The known OPTIONS are {sorted(cls.option_names)}.",
                    id="djqueue.E006",
                )
            )
        failed_ttl = options.get("FAILED_TTL")
        if failed_ttl is not None and (
            isinstance(failed_ttl, bool)
            or not isinstance(failed_ttl, (int, float))
            or failed_ttl < 0
        ):
            errors.append(
                checks.Error(
                    f"Queue {name!r} has OPTIONS['FAILED_TTL'] = {failed_ttl!r}; "
                    "it must be a number of seconds ≥ 0 or None.",
                    id="djqueue.E007",
                )
            )
        return errors
