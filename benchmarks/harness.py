"""Timing, process control and correctness checks shared by the scenarios."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from .sockets import tree

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"


def run_dir() -> Path:
    """This run's own directory: SQLite files, consumer logs, results."""
    from .done import run_id

    path = WORK_DIR / run_id()
    path.mkdir(parents=True, exist_ok=True)
    return path


class CheckFailed(Exception):
    """A scenario's own correctness check failed: its number is not reported."""


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (0 < fraction ≤ 1)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def wait_until(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.02
) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def start_process(argv: Sequence[str], env: dict[str, str], name: str):
    """Start ``argv`` in its own session (so its children can be stopped with
    it), logging to ``.work/<run>/<name>.log``; return the ``Popen``."""
    log = (run_dir() / f"{name}.log").open("ab")
    try:
        return subprocess.Popen(
            list(argv),
            cwd=REPO_DIR,
            env={**os.environ, "PYTHONPATH": str(REPO_DIR), **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group started as ``proc``; SIGKILL it after
    ``timeout`` seconds."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    # Children may outlive a parent that exited on SIGTERM.
    _signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def tree_rss_kib(pid: int) -> int:
    """Return the VmRSS (KiB) of ``pid`` plus that of all its descendants."""
    return sum(_rss_kib(each) for each in tree(pid))


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def check_exactly_once(entries: list[tuple[int, float]], n: int, start=0) -> None:
    """Raise ``CheckFailed`` unless each of start..start+n-1 ran exactly once."""
    seen = Counter(x for x, _ in entries)
    expected = set(range(start, start + n))
    missing = len(expected - seen.keys())
    extra = sum(1 for x in seen if x not in expected)
    twice = sum(1 for x, c in seen.items() if c > 1)
    if missing or extra or twice:
        raise CheckFailed(
            f"expected {n} messages run once each: {missing} missing, "
            f"{twice} run more than once, {extra} unexpected"
        )


def check_at_most_once(entries: list[tuple[int, float]], n: int) -> None:
    """Raise ``CheckFailed`` if a message ran twice or is not one of 0..n-1."""
    seen = Counter(x for x, _ in entries)
    twice = sum(1 for count in seen.values() if count > 1)
    extra = sum(1 for x in seen if not 0 <= x < n)
    if twice or extra:
        raise CheckFailed(
            f"{twice} messages run more than once, {extra} unexpected (of {n} queued)"
        )


def check_pending(pending: int | None, expected: int, what: str) -> None:
    if pending is not None and pending != expected:
        raise CheckFailed(f"{what}: {pending} messages queued, expected {expected}")
