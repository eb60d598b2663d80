"""The Lua programs of ``RedisQueue``, read from the ``scripts`` folder.

Every state change is one program, so it is atomic and costs one round trip.
``KEYS[1]`` is the queue's key base, ``{prefix:queue}``: every key a program
touches starts with it, so a queue lives on one Redis Cluster slot.

Structures, under the base: ``:m:<id>`` a hash per message; ``:ready`` a
sorted set scored by priority then eta, suspect messages (``suspect`` is 1
in their hash) by eta in a band below every priority's, so each kind of
claim reads a score range of its own; ``:scheduled`` by eta; ``:running`` by
lease expiry; ``:done``, ``:failed``, ``:cancelled``, ``:expired`` by
finish time; ``:expiry`` by when a finished message may be deleted;
``:deadlines`` by the deadline of each message that has one (an id stays
until its deadline passes, whatever became of its message);
``:expired_news`` a list of the ids the claims expired, for
``expire_due`` to announce; ``:notify`` a list
that wakes blocked consumers; ``:w:<id>`` a list that wakes result waiters;
``:u:<key>`` the id of the pending message holding a unique key; ``:l:<key>``
the id of the running message holding a lock key. The keys of consumers,
statistics and ticks are described in :mod:`.monitoring`, the pause's
(``:paused``) in :mod:`.pausing`.

A program is ``scripts/<name>.lua`` after ``scripts/common.lua``, the
functions every program may call (the one computation of the ready set's
score among them). Each file is read once per process.
"""

from functools import cache
from importlib import resources

#: The file of the functions every program starts with.
PRELUDE = "common"


@cache
def source(name: str) -> str:
    """Return the source of the program ``name``, prelude first.

    Raise ``FileNotFoundError`` if there is no ``scripts/<name>.lua``.
    """
    if name == PRELUDE:
        raise ValueError(f"{PRELUDE}.lua is the prelude of programs, not one.")
    return _read(PRELUDE) + _read(name)


@cache
def _read(name: str) -> str:
    path = resources.files(__package__) / "scripts" / f"{name}.lua"
    return path.read_text(encoding="utf-8")
