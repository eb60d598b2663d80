"""How the public API reads to a type checker; checked by mypy, never run.

CI runs ``mypy tests/typing_usage.py`` with the project's strict settings.
The right calls must pass. Each wrong call carries the ``# type: ignore``
of the error it must raise: were it accepted, the ignore would be unused,
which strict mode reports, so the check fails both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from djqueue import (
    ExponentialBackoff,
    Progress,
    Result,
    periodic_command,
    queue_command,
    set_meta,
    set_progress,
)


@queue_command(unique=True, lock_key="reports", retries=3, priority=5)
def build_report(account_id: int, *, full: bool = False) -> str:
    return f"report {account_id}{' (full)' if full else ''}"


@queue_command(unique_key="nightly", delay=60.0, queue="default")
def nightly() -> None:
    pass


@queue_command(lock_key=lambda account_id, **kwargs: f"account:{account_id}")
def close_account(account_id: int) -> bool:
    return True


@queue_command(
    name="typing.every_option",
    queue="default",
    priority=-5,
    result_ttl=60.0,
    retries=2,
    retry_delay=ExponentialBackoff(),
    retry_on=(ConnectionError,),
    timeout=30.0,
    eta=datetime(2030, 1, 1, tzinfo=UTC),
    unique_key=None,
    unique=False,
    lock_key=None,
    expires=timedelta(minutes=5),
)
def every_option(label: str) -> None:
    pass


@queue_command(delay=timedelta(seconds=30), retry_delay=[1, 5, 30])
def delayed_by_a_timedelta() -> None:
    pass


@queue_command
def bare(value: float) -> float:
    return value * 2


@periodic_command(every=timedelta(minutes=5), retries=1, unique=True, expires=60)
def every_five_minutes() -> int:
    return 0


@periodic_command(cron="0 3 * * *", timezone="Europe/Paris", delay=timedelta(0))
def nightly_at_three() -> str:
    return ""


def right_calls() -> None:
    result: Result[str] = build_report(1, full=True)
    text: str = result.get(timeout=5)
    handles: list[Result[str]] = build_report.map([(1,), (2,), {"account_id": 3}])
    later: Result[str] = build_report.using(delay=timedelta(minutes=1))(4)
    by_noon: Result[str] = build_report.using(
        expires=datetime(2030, 1, 1, 12, tzinfo=UTC)
    )(5)
    at: Result[bool] = close_account.enqueue_in(30, 5)
    doubled: float = bare.call_local(2.0)
    ticks: Result[int] = every_five_minutes()
    nightly()
    explicit: Result[str] = build_report.enqueue(6, full=False)
    value: str = explicit.value
    done: bool = explicit.succeeded or explicit.failed
    maybe: str | None = explicit.result
    found: Result[Any] = Result.from_id(explicit.id)
    by_name: Result[str] = Result(explicit.id, "default")
    labelled: Result[None] = every_option.enqueue("x")
    at_three: Result[str] = nightly_at_three.enqueue()
    print(text, handles, later, at, doubled, ticks, value, done, maybe, found)
    print(by_name, labelled, at_three, delayed_by_a_timedelta(), by_noon)


@queue_command
async def fetch_page(url: str) -> int:
    return len(url)


@queue_command(queue="default", timeout=5.0)
async def fetch_with_options(url: str, *, retries: int = 0) -> bytes:
    return url.encode()


async def async_calls() -> None:
    result: Result[str] = await build_report.aenqueue(1, full=True)
    await result.arefresh()
    text: str = await result.aget(timeout=5)
    # An async command's result is what its coroutine returns.
    length: int = fetch_page("https://example.com").get(timeout=5)
    body: bytes = await (await fetch_with_options.aenqueue("u", retries=1)).aget()
    here: int = await fetch_page.call_local("u")
    changed: Result[int] = fetch_page.using(priority=3).enqueue("u")
    again: int = await fetch_page.using(timeout=1.0).call_local("u")
    print(text, length, body, here, changed, again)


@queue_command
def import_rows(rows: list[str]) -> int:
    set_meta(source="upload", rows=len(rows))
    for number, _row in enumerate(rows, start=1):
        set_progress(number, total=len(rows), note=f"row {number}")
    return len(rows)


def progress_reads() -> None:
    result = import_rows(["a"])
    progress: Progress | None = result.progress
    meta: dict[str, Any] = result.meta
    share: float | None = None if progress is None else progress.fraction
    print(meta, share)


def wrong_calls() -> None:
    set_progress("half")  # type: ignore[arg-type]
    set_progress(1, note=3)  # type: ignore[arg-type]
    build_report("one")  # type: ignore[arg-type]
    build_report(1, fully=True)  # type: ignore[call-arg]
    build_report.map(5)  # type: ignore[arg-type]
    bare(1.0).get() + "text"  # type: ignore[operator]
    close_account.call_local()  # type: ignore[call-arg]
    build_report.aenqueue("one")  # type: ignore[arg-type, unused-coroutine]
    build_report.enqueue("one")  # type: ignore[arg-type]
    bare.enqueue(1.0).value + "text"  # type: ignore[operator]
    nightly_at_three.enqueue(1)  # type: ignore[call-arg]
    fetch_page(1)  # type: ignore[arg-type]
    fetch_page.enqueue("u").value + "text"  # type: ignore[operator]
    fetch_with_options("u", retries="no")  # type: ignore[arg-type]


@queue_command(uniqe=True)  # type: ignore[call-overload, untyped-decorator]
def misspelt_option() -> None:
    pass


@queue_command(priority="high")  # type: ignore[call-overload, untyped-decorator]
def wrong_option_type() -> None:
    pass


@queue_command(delay="soon")  # type: ignore[call-overload, untyped-decorator]
def wrong_delay_type() -> None:
    pass


@queue_command(expires="soon")  # type: ignore[call-overload, untyped-decorator]
def wrong_expires_type() -> None:
    pass


@periodic_command(every=5)  # type: ignore[call-overload, untyped-decorator]
def wrong_period_type() -> None:
    pass
