"""The djqueue command, found by autodiscovery."""

from benchmarks import done
from djqueue import queue_command


@queue_command
def noop(x: int) -> int:
    return done.record(x)
