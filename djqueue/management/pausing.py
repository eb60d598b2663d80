"""What ``queue_pause`` and ``queue_resume`` share: the queues their
arguments name, who is pausing, and how a pause reads in a terminal."""

from __future__ import annotations

import getpass
import socket
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ..backends.base import BaseQueue
from ..backends.handler import get_queue, queue_names
from ..backends.pausing import Pause
from ..exceptions import UnknownQueue

#: The exit status when a queue's store cannot be reached (EX_UNAVAILABLE).
EXIT_UNREACHABLE = 69


def add_queue_arguments(parser: CommandParser, verb: str) -> None:
    parser.add_argument("queues", nargs="*", metavar="queue", help=f"Queues to {verb}.")
    parser.add_argument(
        "--all",
        action="store_true",
        help=f"{verb.capitalize()} every configured queue whose backend can be paused.",
    )


def chosen_queues(options: dict[str, Any], verb: str) -> list[BaseQueue]:
    """The queues the arguments name, each read as the admin reads it (a
    server that hangs fails at once); raise ``CommandError`` naming the fix.

    With ``--all``, the queues whose backend cannot be paused are left out;
    a queue named that cannot be paused is an error, and nothing changes."""
    names, every = options["queues"], options["all"]
    if bool(names) == bool(every):
        raise CommandError(f"Name the queues to {verb}, or pass --all (not both).")
    try:
        queues = [get_queue(name) for name in names or queue_names()]
    except UnknownQueue as exc:
        raise CommandError(str(exc)) from exc
    pausable = [queue for queue in queues if queue.supports_pause]
    if every:
        return [queue.for_inspection() for queue in pausable]
    for queue in queues:
        if not queue.supports_pause:
            raise CommandError(
                f"Queue {queue.name!r} cannot be paused: its backend, "
                f"{type(queue).__name__}, does not support pausing "
                "(supports_pause is False)."
            )
    return [queue.for_inspection() for queue in queues]


def unreachable(queue: BaseQueue, exc: Exception) -> CommandError:
    return CommandError(
        f"Cannot reach queue {queue.name!r}: {exc}", returncode=EXIT_UNREACHABLE
    )


def who_runs_this() -> str:
    """The default "paused by" of the command line: user@host."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry
        user = "manage.py"
    return f"{user}@{socket.gethostname()}"


def described(pause: Pause) -> str:
    """ "by alice@web1 since 2026-12-03T14:00:05+00:00: deploying"."""
    since = pause.since.isoformat(timespec="seconds")
    reason = f": {pause.reason}" if pause.reason else ""
    return f"by {pause.by} since {since}{reason}"
