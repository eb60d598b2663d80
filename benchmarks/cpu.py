"""CPU time spent while a consumer drains: its own and the servers'.

A drain rate alone says how fast, not what limits it; on a 2-core machine
where the consumer, Redis and PostgreSQL share the cores, the CPU time each
of them spends per message does. It is read from ``/proc`` (Linux only;
elsewhere :func:`snapshot` returns ``None`` and the figures are absent):

* the consumer: every process of its tree (threads are part of their
  process), user and system time;
* the servers: every ``redis-server`` and ``postgres`` process on the
  machine, with the time of the PostgreSQL backends that have exited, which
  the kernel adds to their parent, the postmaster. The machine is to run
  nothing else during a full run, so this is the servers' work for the
  drain: the store's and the done list's.

CPU time does not move much with the load on the machine, unlike rates.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

PROC = Path("/proc")
SERVERS = frozenset({"redis-server", "postgres"})


@dataclasses.dataclass(frozen=True)
class Sample:
    pid: int
    parent: int
    name: str
    own: float  # CPU seconds of the process itself
    reaped: float  # CPU seconds of its children that have exited


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """CPU seconds used so far by a consumer's process tree and by the
    servers."""

    consumer: float
    servers: float


def read(pid: int, tick: float) -> Sample | None:
    """One process's CPU times, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces: split after it.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) / tick for x in fields[11:15])
    return Sample(pid, int(fields[1]), name, utime + stime, cutime + cstime)


def processes() -> list[Sample]:
    tick = os.sysconf("SC_CLK_TCK")
    found = (read(int(entry), tick) for entry in os.listdir(PROC) if entry.isdigit())
    return [sample for sample in found if sample is not None]


def tree(root: int, samples: list[Sample]) -> list[Sample]:
    """``root`` and its descendants among ``samples``."""
    children: dict[int, list[Sample]] = {}
    for sample in samples:
        children.setdefault(sample.parent, []).append(sample)
    found, todo = [], [s for s in samples if s.pid == root]
    while todo:
        sample = todo.pop()
        found.append(sample)
        todo += children.get(sample.pid, [])
    return found


def snapshot(consumer_pid: int) -> Snapshot | None:
    """CPU seconds so far of the consumer's tree and of the servers."""
    if not PROC.is_dir():
        return None
    samples = processes()
    names = {sample.pid: sample.name for sample in samples}
    servers = 0.0
    for sample in samples:
        if sample.name in SERVERS:
            servers += sample.own
            if names.get(sample.parent) != sample.name:  # the postmaster
                servers += sample.reaped
    consumer = sum(s.own + s.reaped for s in tree(consumer_pid, samples))
    return Snapshot(consumer, servers)


def per_message(start: Snapshot | None, end: Snapshot | None, messages: int) -> dict:
    """Microseconds of CPU per message between two snapshots: the cell
    fields ``consumer_us`` and ``servers_us`` (none without snapshots)."""
    if start is None or end is None or messages <= 0:
        return {}
    return {
        "consumer_us": (end.consumer - start.consumer) / messages * 1e6,
        "servers_us": (end.servers - start.servers) / messages * 1e6,
    }
