"""What the parts of ``DatabaseQueue`` (claims, acks, inspection,
monitoring) use of the queue they are mixed into, declared for the type
checker.

To the type checker each part is a :class:`~djqueue.backends.base.BaseQueue`
with the queue's ``using`` and ``records``; at run time it derives from
``object`` alone, so ``DatabaseQueue`` and its method resolution order are
what they would be without this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ...models import MessageRecord
    from ..base import BaseQueue

    class DatabasePart(BaseQueue):
        #: The alias of the queue's database.
        using: str

        @property
        def records(self) -> QuerySet[MessageRecord]:
            """The rows of the queue."""
            ...

else:
    DatabasePart = object
