"""The demo commands, found by djqueue's autodiscovery."""

import asyncio
import os
import threading
import time
from datetime import timedelta
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, transaction
from django.db.models import F

from djqueue import (
    Retry,
    current_message,
    periodic_command,
    queue_command,
    set_meta,
    set_progress,
)

from .models import Report, Run


@queue_command
def add(a, b):
    """Return the sum of two numbers."""
    return a + b


@queue_command(priority=5, result_ttl=3600)
def churn_data(report: Report, factor: Decimal = Decimal("1.5")):
    """The classic djutils.queue example: work on a fresh model instance.

    It reads the report, adds to it and saves it (without ``F()``), so runs
    on one report that overlap lose each other's additions unless they
    share a lock key.
    """
    report.churned += int(report.words * factor)
    report.save(update_fields=["churned"])
    return {"report": report.pk, "churned": report.churned}


@queue_command
def churn_data_meeting(report: Report, runs: int, patience: float = 30.0):
    """churn_data that, having loaded its report, waits (at most
    ``patience`` seconds) until ``runs`` runs on the report have loaded
    theirs: runs that can overlap then do, and lose updates for sure."""
    message = current_message()
    label = f"meeting:{report.pk}"
    Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    deadline = time.monotonic() + patience
    while Run.objects.filter(label=label).count() < runs:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    report.churned += int(report.words * Decimal("1.5"))
    report.save(update_fields=["churned"])


@queue_command
def churn_data_with_f(report: Report, factor: Decimal = Decimal("1.5")):
    """churn_data made safe by letting the database do the addition."""
    Report.objects.filter(pk=report.pk).update(
        churned=F("churned") + int(report.words * factor)
    )


@queue_command
def churn_data_for_update(report: Report, factor: Decimal = Decimal("1.5")):
    """churn_data made safe by locking the row until the save commits."""
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        report.churned += int(report.words * factor)
        report.save(update_fields=["churned"])


@queue_command
def fail(reason="on purpose"):
    raise ValueError(reason)


@queue_command(retries=2)
def flaky(label):
    """Fail on the first two attempts, succeed on the third."""
    message = current_message()
    if message.attempts < 3:
        raise RuntimeError(f"{label}: attempt {message.attempts} fails")
    return message.attempts


@queue_command(retries=11)
def fail_every_time(label=""):
    """Record this run, then fail, naming the attempt (12 attempts)."""
    message = current_message()
    Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    raise RuntimeError(f"{label}: attempt {message.attempts} fails")


@queue_command
def record_run(label="", seconds=0.0):
    """Record this run (by message id and attempt), sleeping first and after."""
    message = current_message()
    run = Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    if seconds:
        time.sleep(seconds)
    run.finished = True
    run.save(update_fields=["finished"])
    return run.pk


@queue_command
def slow_once(label="", seconds=30.0):
    """Record this run; sleep only on the first attempt (to be killed in)."""
    message = current_message()
    Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    if message.attempts == 1:
        time.sleep(seconds)
    Run.objects.filter(message_id=message.id, attempt=message.attempts).update(
        finished=True
    )
    return message.attempts


@queue_command(retries=2, result_ttl=3600)
def fails_then_hangs(label="", seconds=60.0):
    """Record each run: the first fails, the second sleeps (to be killed
    in), the third succeeds."""
    message = current_message()
    Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    if message.attempts == 1:
        raise RuntimeError(f"{label}: the first attempt fails")
    if message.attempts == 2:
        time.sleep(seconds)
    return message.attempts


@queue_command
def exit_now():
    """Call sys.exit(), which must end only this run, not its worker."""
    raise SystemExit(3)


@queue_command(retries=2, retry_delay=[10, 30])
def fails_twice(label=""):
    """Record this run; fail on the first two attempts."""
    message = current_message()
    Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    if message.attempts < 3:
        raise ConnectionError(f"attempt {message.attempts} fails")
    return message.attempts


@queue_command(retries=5, retry_on=(ConnectionError,))
def fails_with(kind="value"):
    """Raise ValueError or ConnectionError; only the latter is retried."""
    raise (ValueError if kind == "value" else ConnectionError)(kind)


@queue_command
def asks_to_retry(delay=None):
    """Ask to be retried, once, through Retry."""
    if current_message().attempts == 1:
        raise Retry(delay=delay, reason="not yet")
    return "second time"


@queue_command(timeout=1)
def overruns(seconds=30.0):
    """Sleep past the one-second timeout."""
    time.sleep(seconds)


@queue_command
def kill_own_process():
    """A poison message: kill the process that runs it, every time."""
    os.kill(os.getpid(), 9)


_hoard = []


@queue_command
def hoard(mib=64):
    """Keep ``mib`` MiB alive in this process (a leak, on purpose)."""
    _hoard.append(bytearray(mib * 1024 * 1024))
    return os.getpid()


@queue_command(retries=5, retry_delay=0.2, retry_on=(DatabaseError,))
def record_resilient(label=""):
    """Like record_run, retried when its own database connection breaks."""
    message = current_message()
    Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    time.sleep(0.01)
    return message.attempts


if os.environ.get("DJQUEUE_DEMO_TICK_SECONDS"):
    # Registered only where the tests ask for it, so other consumers do not tick.

    @periodic_command(
        every=timedelta(seconds=float(os.environ["DJQUEUE_DEMO_TICK_SECONDS"]))
    )
    def tick():
        """Record the tick this run is for (its message's eta)."""
        message = current_message()
        Run.objects.create(
            message_id=message.id,
            attempt=message.attempts,
            pid=os.getpid(),
            label=message.eta.isoformat(),
        )


@queue_command(result_ttl=3600)
def import_reports(titles):
    """Create a report per title, saying how far it got after each."""
    set_meta(source="titles", count=len(titles))
    for number, title in enumerate(titles, start=1):
        Report.objects.create(title=title)
        set_progress(number, total=len(titles), note=f"imported {title!r}")
    return len(titles)


@queue_command(result_ttl=3600)
async def counts_steps(steps: int = 3) -> int:
    """Report each step from the coroutine, and metadata from sync code."""
    for step in range(1, steps + 1):
        set_progress(step, total=steps, note=f"step {step}")
        await asyncio.sleep(0)
    await sync_to_async(set_meta)(finished_in="sync code")
    return steps


@queue_command(retries=2, result_ttl=3600)
def progress_then_wait(path, patience=60.0):
    """Report the first half of the work under this attempt's number, then
    (on the first attempt only) wait for ``path``, to be killed in; then
    report the second half and return the attempt's number."""
    attempt = current_message().attempts
    set_progress(1, total=2, note=f"attempt {attempt}")
    message_id = current_message().id
    Run.objects.create(message_id=message_id, attempt=attempt, pid=os.getpid())
    deadline = time.monotonic() + patience
    while attempt == 1 and not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {patience}s")
        time.sleep(0.05)
    set_progress(2, total=2, note=f"attempt {attempt}")
    return attempt


@queue_command
def wait_for_file(path, patience=60.0):
    """Run until ``path`` exists (at most ``patience`` seconds), touching no
    server: lets a test cut a consumer off while its runs are still going."""
    deadline = time.monotonic() + patience
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {patience}s")
        time.sleep(0.05)
    return path


@queue_command
def record_until_file(path, label="", patience=60.0):
    """Record this run (by message id and attempt), then run until ``path``
    exists (at most ``patience`` seconds): a run that a test ends when it
    chooses, and that counts how often each message ran."""
    message = current_message()
    run = Run.objects.create(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    wait_for_file.call_local(path, patience)
    run.finished = True
    run.save(update_fields=["finished"])
    return run.pk


@queue_command(retries=2)
async def fails_once_async(label=""):
    """Raise on the first attempt, then return the attempt and message id."""
    message = current_message()
    await asyncio.sleep(0)
    if message.attempts == 1:
        raise RuntimeError(f"{label}: attempt 1 fails")
    return {"attempt": message.attempts, "id": message.id}


@queue_command
async def in_process(label=""):
    """Return the pid of the process that ran it (process workers' test)."""
    await asyncio.sleep(0)
    return os.getpid()


@queue_command(timeout=5)
async def raises_timeout():
    """Raise TimeoutError itself, well within its own timeout."""
    raise TimeoutError("the command's own")


@queue_command
def worker_thread():
    """Return the thread that ran this sync command."""
    return threading.get_ident()


@queue_command
async def sync_to_async_thread():
    """Return the thread that ran this async command's sync_to_async call,
    where its ORM calls run."""
    return await sync_to_async(threading.get_ident)()


@queue_command
async def record_then_wait(label=""):
    """Record this run, then wait for an event nobody sets (no timeout)."""
    message = current_message()
    await Run.objects.acreate(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    await asyncio.Event().wait()


#: Set by the tests of many runs at once: where the runs of ``meet`` with a
#: label wait for one another (an asyncio.Barrier of as many parties)...
BARRIERS = {}
#: ... the database connections they used, one per run's thread...
CONNECTIONS = {}
#: ... and the event they set once met (a threading.Event).
MET = {}
#: Released by each run of ``wait_in_loop`` once it waits.
WAITING = threading.Semaphore(0)


def _note_connection(label):
    CONNECTIONS.setdefault(label, []).append(connections["default"])


@queue_command(retries=0)
async def meet(label, fail=False, patience=10.0):
    """Record a run with the async ORM, then wait until every party of the
    label's barrier arrived (a TimeoutError after ``patience`` seconds);
    return this run's message id and the thread its coroutine ran in."""
    message = current_message()
    await Run.objects.acreate(
        message_id=message.id, attempt=message.attempts, pid=os.getpid(), label=label
    )
    await sync_to_async(_note_connection)(label)
    async with asyncio.timeout(patience):
        await BARRIERS[label].wait()
    MET[label].set()
    if fail:
        raise RuntimeError(f"{label}: fails once met")
    return {"id": current_message().id, "thread": threading.get_ident()}


@queue_command(retries=0)
def wait_for_meeting(label, patience=10.0):
    """A sync command that waits until the runs of ``meet`` with this label
    met; return the thread it ran in."""
    if not MET[label].wait(patience):
        raise TimeoutError(f"{label}: nobody met within {patience}s")
    return threading.get_ident()


@queue_command
async def wait_in_loop():
    """Say it waits, then wait for an event nobody sets (no timeout)."""
    WAITING.release()
    await asyncio.Event().wait()


# The async commands of docs/async.rst, registered with the demo app's.
from . import async_commands  # noqa: E402, F401
