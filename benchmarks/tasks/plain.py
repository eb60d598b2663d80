"""The no-op as a plain function (RQ imports it by name)."""

from benchmarks import done


def noop(x: int) -> int:
    return done.record(x)
