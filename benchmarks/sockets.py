"""The TCP connections a process tree holds to a server, read from ``/proc``
(Linux only): each of the tree's socket descriptors, matched by inode with
``/proc/net/tcp`` and ``tcp6``, counted when its remote port is the
server's and it is established. A socket shared by a parent and a forked
child is one connection."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
ESTABLISHED = "01"


def tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in (PROC / str(pid) / "fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _established_to(port: int) -> dict[str, int]:
    """The local port of each established TCP socket whose remote port is
    ``port``, by inode."""
    found = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == ESTABLISHED and int(remote.rsplit(":", 1)[1], 16) == port:
                found[inode] = int(local.rsplit(":", 1)[1], 16)
    return found


def local_ports(pids: dict[str, int], port: int) -> dict[str, set[int]]:
    """For each name of ``pids``, the local ports of the connections its
    process tree holds to the server on ``port``."""
    to_server = _established_to(port)
    return {
        name: {
            to_server[inode]
            for inode in set().union(*(_socket_inodes(p) for p in tree(pid)))
            if inode in to_server
        }
        for name, pid in pids.items()
    }


def connections(pids: dict[str, int], port: int) -> dict[str, int]:
    """For each name of ``pids``, the connections its process tree holds to
    the server on ``port``."""
    return {name: len(ports) for name, ports in local_ports(pids, port).items()}
