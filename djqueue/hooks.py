"""Ordered sets of hooks that integrations add to a step of the flow.

The caller's side traces each enqueue through its send tracers and the
consumer each run through its run tracers (see
:mod:`djqueue.commands.enqueue` and :mod:`djqueue.consumer.execution`);
both keep them in a :class:`Hooks`. Reading one is a tuple read, with no
lock and no work when none is installed, since it happens on every
enqueue and every run; adding and removing replace the tuple whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

H = TypeVar("H")


class Hooks(Generic[H]):
    """The hooks of one step, in the order they were added (each once)."""

    def __init__(self) -> None:
        self.installed: tuple[H, ...] = ()

    def add(self, hook: H) -> None:
        """Call ``hook`` too from now on; a hook already there stays where
        it is."""
        if hook not in self.installed:
            self.installed = (*self.installed, hook)

    def remove(self, hook: H) -> None:
        """Stop calling ``hook`` (nothing happens if it is not there)."""
        self.installed = tuple(known for known in self.installed if known != hook)

    def __bool__(self) -> bool:
        return bool(self.installed)

    def __iter__(self) -> Iterator[H]:
        return iter(self.installed)

    def __reversed__(self) -> Iterator[H]:
        return reversed(self.installed)
