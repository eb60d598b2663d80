"""The conditions a ``RedisQueue`` scan checks on each message's hash for
the inspection filters (``command``, ``argument``, ``error``), in the form
``scripts/scan_ids.lua`` reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .part import Condition


def conditions(
    command: str | None, argument: str | None, error: str | None
) -> list[Condition]:
    """The match of the inspection filters (see ``list_messages``)."""
    found = [] if command is None else [("command", "=", command)]
    for field, value in (("payload", argument), ("error", error)):
        if value:
            found.append((field, "~", value.lower()))
    return found
