"""``MemoryQueue``: a backend that keeps its messages in the memory of this
process, with every optional part of the contract, for tests and
demonstrations (see :mod:`.queue`)."""

from .queue import MemoryQueue

__all__ = ["MemoryQueue"]
