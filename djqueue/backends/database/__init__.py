"""``DatabaseQueue``: messages in a table, through the Django ORM.

The queue is :class:`~djqueue.backends.database.queue.DatabaseQueue`,
imported here so that ``djqueue.backends.database.DatabaseQueue`` is the
path settings name.
"""

from .queue import DatabaseQueue

__all__ = ["DatabaseQueue"]
