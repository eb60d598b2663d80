"""The Redis (and Valkey) backend: :class:`RedisQueue`.

Importing it never needs redis-py, which is imported when the first queue
builds its client. Modules: ``queue`` the class, its client, writes and
results; ``leases`` claims and outcomes; ``inspection``, ``scan`` and
``monitoring`` what the admin reads; ``hashes`` how a message is stored;
``connection`` the ``CONNECTION`` setting and clients, ``sentinel`` its
Sentinel form and client; ``config`` the system checks; ``lua`` the loader
of the Lua programs in ``scripts/``.
"""

from .queue import RedisQueue

__all__ = ["RedisQueue"]
