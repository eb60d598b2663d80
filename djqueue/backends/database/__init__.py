"""``DatabaseQueue``: messages in a table, through the Django ORM.

The queue is :class:`~djqueue.backends.database.queue.DatabaseQueue`,
imported here so that ``djqueue.backends.database.DatabaseQueue`` is the
path settings name. Its parts, one module each:

* ``queue``: the class, its writes and the message lifecycle after a claim;
* ``claims``: the claim statements per database vendor, lock keys and
  suspect messages;
* ``acks``: many acknowledgements at once;
* ``inserts``: the prepared ``INSERT`` of one message;
* ``rows``: rows read back as messages, whatever they hold;
* ``inspection``: the messages as the admin reads and changes them;
* ``monitoring``: the consumers serving a queue, its run statistics, the
  periodic commands' last ticks;
* ``pg_notify``: waking PostgreSQL consumers with LISTEN/NOTIFY;
* ``sqlite_tuning``: fast SQLite as installed.
"""

from .queue import DatabaseQueue

__all__ = ["DatabaseQueue"]
