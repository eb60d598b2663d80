"""``DatabaseQueue``: messages in a table, through the Django ORM.

The queue is :class:`~djqueue.backends.database.queue.DatabaseQueue`,
imported here so that ``djqueue.backends.database.DatabaseQueue`` is the
path settings name. Its parts, one module each:

* ``queue``: the class, its writes and its housekeeping (promote, purge);
* ``claims``: the claims, in one statement on PostgreSQL and SQLite, lock
  keys and suspect messages, and ``ack_and_claim``;
* ``locking_claim``: the claim on MySQL and MariaDB, in a short
  transaction;
* ``leases``: what becomes of a leased message (ack, fail, retry later,
  release, extend);
* ``acks``: many acknowledgements at once;
* ``reclaim``: the reclaim of expired leases, each lost attempt recorded;
* ``inserts``: the prepared ``INSERT`` of one message;
* ``rows``: rows read back as messages, whatever they hold;
* ``inspection``: the messages as the admin reads and changes them;
* ``scan``: pages and bounded searches through a state's messages;
* ``part``: what the parts use of the queue they are mixed into, for the
  type checker;
* ``monitoring``: the consumers serving a queue, its run statistics, the
  periodic commands' last ticks;
* ``pg_notify``: waking PostgreSQL consumers with LISTEN/NOTIFY;
* ``aliases``: which databases hold a queue;
* ``router``: the database router that puts djqueue's tables there, and
  its system check;
* ``sqlite_tuning``: fast SQLite as installed.
"""

from .queue import DatabaseQueue

__all__ = ["DatabaseQueue"]
