"""How the public API reads to a type checker; checked by mypy, never run.

CI runs ``mypy tests/typing_usage.py`` with the project's strict settings.
The right calls must pass. Each wrong call carries the ``# type: ignore``
of the error it must raise: were it accepted, the ignore would be unused,
which strict mode reports, so the check fails both ways.
"""

from __future__ import annotations

from datetime import timedelta

from djqueue import Result, queue_command
from djqueue.periodic import periodic_command


@queue_command(unique=True, lock_key="reports", retries=3, priority=5)
def build_report(account_id: int, *, full: bool = False) -> str:
    return f"report {account_id}{' (full)' if full else ''}"


@queue_command(unique_key="nightly", delay=60.0, queue="default")
def nightly() -> None:
    pass


@queue_command(lock_key=lambda account_id, **kwargs: f"account:{account_id}")
def close_account(account_id: int) -> bool:
    return True


@queue_command
def bare(value: float) -> float:
    return value * 2


@periodic_command(every=timedelta(minutes=5), retries=1, unique=True)
def every_five_minutes() -> int:
    return 0


def right_calls() -> None:
    result: Result[str] = build_report(1, full=True)
    text: str = result.get(timeout=5)
    handles: list[Result[str]] = build_report.map([(1,), (2,), {"account_id": 3}])
    later: Result[str] = build_report.using(delay=timedelta(minutes=1))(4)
    at: Result[bool] = close_account.enqueue_in(30, 5)
    doubled: float = bare.call_local(2.0)
    ticks: Result[int] = every_five_minutes()
    nightly()
    print(text, handles, later, at, doubled, ticks)


def wrong_calls() -> None:
    build_report("one")  # type: ignore[arg-type]
    build_report(1, fully=True)  # type: ignore[call-arg]
    build_report.map(5)  # type: ignore[arg-type]
    bare(1.0).get() + "text"  # type: ignore[operator]
    close_account.call_local()  # type: ignore[call-arg]


@queue_command(uniqe=True)  # type: ignore[call-overload, untyped-decorator]
def misspelt_option() -> None:
    pass


@queue_command(priority="high")  # type: ignore[call-overload, untyped-decorator]
def wrong_option_type() -> None:
    pass
