"""The admin's pages and bulk actions at 100,000 messages: wall time, database
queries and Redis round trips of each request.

Run from the repository's root, with the test project's settings::

    DJQUEUE_DB=postgres python -m benchmarks.admin_pages --n 7 --rst /tmp/a.rst

It creates a database of its own (``DJQUEUE_DB`` picks SQLite, PostgreSQL or
MySQL/MariaDB as in ``testproject/settings.py``; ``DJQUEUE_DB_NAME``,
``admin_bench`` by default, names it: Django's ``test_`` database of that
name is created, migrated and dropped) and, for Redis, a key prefix of its
own on ``BENCH_REDIS_URL`` (``redis://127.0.0.1:6379/15`` by default), whose
keys are deleted at the end (never ``FLUSHDB``). For each backend it fills one
queue with 95,000 queued and 5,000 failed messages, logs a superuser in with
Django's test ``Client`` (in this process: no server, no network to the
browser) and requests each page once to warm up, then ``--n`` times: the
median and the slowest wall time, the most database queries and Redis round
trips (a command sent alone, or a pipeline) and commands of one request. The
actions are posted as a browser posts them: the list's form fields, the
signed token read from the confirmation page's HTML, then each step's.
It writes nothing in the repository (``--rst`` must name a file outside it).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

REPO_DIR = Path(__file__).resolve().parent.parent

QUEUED = 95_000
#: Failed messages by command; the first is the one "retry all" acts on.
FAILED = {
    "testproject.reports.commands.count_words": 1_500,
    "testproject.demo.commands.fails_with": 2_000,
    "testproject.demo.commands.flaky": 1_000,
    "testproject.demo.commands.fail_every_time": 500,
}
#: Queued messages by command: a share of QUEUED each.
QUEUED_SHARES = {
    "testproject.demo.commands.add": 0.5,
    "testproject.demo.commands.churn_data": 0.25,
    "testproject.demo.commands.record_run": 0.25,
}
#: One queued message in RARE carries this text in its arguments.
RARE_ARGUMENT = "alice@example.com"
RARE = 1_000
ERRORS = {
    "testproject.reports.commands.count_words": (
        "psycopg.errors.DeadlockDetected",
        "DeadlockDetected: deadlock detected",
    ),
    "testproject.demo.commands.fails_with": (
        "ConnectionRefusedError",
        "ConnectionRefusedError: [Errno 111] Connection refused",
    ),
    "testproject.demo.commands.flaky": (
        "TimeoutError",
        "TimeoutError: the payment provider did not answer within 10 s",
    ),
    "testproject.demo.commands.fail_every_time": (
        "ValueError",
        "ValueError: invoice 4711 has no lines",
    ),
}
SITE = "/srv/app/.venv/lib/python3.13/site-packages"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    f'  File "{SITE}/djqueue/consumer/execution.py", line 212, in run\n'
    "    value = command.function(*args, **kwargs)\n"
    '  File "/srv/app/shop/commands.py", line 88, in {name}\n'
    "    receipt = provider.charge(order, amount=order.total, key=key)\n"
    '  File "/srv/app/shop/payments.py", line 141, in charge\n'
    "    response = self.session.post(self.url, json=body, timeout=10)\n"
    f'  File "{SITE}/requests/sessions.py", line 637, in post\n'
    '    return self.request("POST", url, data=data, json=json, **kwargs)\n'
    f'  File "{SITE}/requests/adapters.py", line 700, in send\n'
    "    raise ConnectionError(e, request=request)\n"
    "{error}\n"
)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    os.environ.setdefault("DJQUEUE_DB_NAME", "admin_bench")
    # The demo's periodic command, so the periodic page reads its ticks.
    os.environ.setdefault("DJQUEUE_DEMO_TICK_SECONDS", "60")
    if str(REPO_DIR) not in sys.path:
        sys.path.insert(0, str(REPO_DIR))
    import django

    django.setup()


# -- Counting ----------------------------------------------------------------


@dataclasses.dataclass
class Calls:
    queries: int = 0
    round_trips: int = 0
    commands: int = 0


@contextlib.contextmanager
def counted() -> Iterator[Calls]:
    """Count the database queries and the Redis round trips (each command
    sent alone, each pipeline as one) and commands of this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from redis.client import Pipeline, Redis

    calls = Calls()
    execute_command, execute = Redis.execute_command, Pipeline.execute

    def counted_command(self, *args, **options):
        calls.round_trips += 1
        calls.commands += 1
        return execute_command(self, *args, **options)

    def counted_execute(self, *args, **kwargs):
        calls.round_trips += 1
        calls.commands += len(self.command_stack)
        return execute(self, *args, **kwargs)

    Redis.execute_command, Pipeline.execute = counted_command, counted_execute
    try:
        with CaptureQueriesContext(connection) as queries:
            yield calls
    finally:
        Redis.execute_command, Pipeline.execute = execute_command, execute
    calls.queries = len(queries)


@dataclasses.dataclass
class Row:
    page: str
    backend: str
    times: list[float]
    calls: list[Calls]
    note: str = ""

    def cells(self) -> list[str]:
        most = Calls(*(max(getattr(c, f) for c in self.calls) for f in FIELDS))
        trips = f"{most.round_trips} / {most.commands}" if most.round_trips else "0"
        return [
            self.page,
            self.backend,
            f"{statistics.median(self.times):.1f}",
            f"{max(self.times):.1f}",
            str(most.queries),
            trips,
            self.note,
        ]


FIELDS = ("queries", "round_trips", "commands")
HEAD = [
    "page or action",
    "backend",
    "median ms",
    "max ms",
    "queries",
    "Redis trips / commands",
    "note",
]


def timed(request: Callable[[], object]) -> tuple[object, float, Calls]:
    with counted() as calls:
        start = time.perf_counter()
        response = request()
        elapsed = (time.perf_counter() - start) * 1000
    return response, elapsed, calls


def measure(
    name: str, backend: str, request: Callable[[], object], n: int, expect: int
) -> Row:
    """Warm up once, then time ``n`` requests."""
    row = Row(name, backend, [], [])
    for round_ in range(n + 1):
        response, elapsed, calls = timed(request)
        status = getattr(response, "status_code", None)
        if status != expect:
            raise SystemExit(f"{name}: status {status}, expected {expect}")
        if round_:
            row.times.append(elapsed)
            row.calls.append(calls)
    return row


# -- Forms, as a browser reads them -------------------------------------------


class Forms(HTMLParser):
    """The forms of a page: action and the hidden inputs of each."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append((values.get("action") or "", {}))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1][1][values["name"]] = values.get("value") or ""


def form(response, action_contains: str) -> tuple[str, dict[str, str]]:
    """The first form of ``response`` whose action contains the text."""
    for action, hidden in Forms(response.content.decode()).forms:
        if action_contains in action:
            return action, hidden
    raise SystemExit(f"no form posting to {action_contains!r} on the page")


# -- Filling ---------------------------------------------------------------------


def fill(queue) -> dict[str, list[str]]:
    """Write the failed messages (failed as a worker fails them) and then the
    queued ones; return the failed ids by command."""
    from django.utils import timezone

    from djqueue.envelope.message import attempt_error
    from djqueue.states import State
    from tests.factories import make_message

    failed: dict[str, list[str]] = {}
    start = timezone.now() - timedelta(hours=2)
    for command, count in FAILED.items():
        exception, error = ERRORS[command]
        traceback = TRACEBACK.format(name=command.rsplit(".", 1)[1], error=error)
        messages = [
            make_message(
                command,
                (f"order-{i}",),
                {"customer": f"customer-{i}@example.org"},
                max_attempts=3,
                enqueued_at=start,
            )
            for i in range(count)
        ]
        for first in range(0, count, 1000):
            batch = messages[first : first + 1000]
            queue.write_many(batch)
            claimed = queue.claim("web-1:4242:w0", 300, limit=len(batch))
            for message in claimed:
                at = timezone.now()
                message.attempt_errors = [
                    attempt_error(
                        attempt,
                        at,
                        exception,
                        error,
                        traceback,
                        worker="web-1:4242:w0",
                        started_at=at,
                        outcome="retried" if attempt < 3 else "failed",
                    )
                    for attempt in (1, 2, 3)
                ]
                assert queue.fail(message, error, traceback)
        failed[command] = [message.id for message in messages]
    shares = list(QUEUED_SHARES.items())
    for first in range(0, QUEUED, 10_000):
        batch = []
        for i in range(first, min(first + 10_000, QUEUED)):
            command = shares[i % len(shares)][0]
            if i % RARE == RARE // 2:
                kwargs = {"email": RARE_ARGUMENT}
            else:
                kwargs = {"email": f"user-{i}@example.org"}
            batch.append(make_message(command, (i, i + 1), kwargs))
        queue.write_many(batch)
    counts = queue.counts()
    assert counts[State.QUEUED] == QUEUED, counts
    assert counts[State.FAILED] == sum(FAILED.values()), counts
    return failed


# -- The pages ------------------------------------------------------------------


def admin_url(name: str, *args: object) -> str:
    from django.urls import reverse

    return reverse(f"admin:djqueue_messagerecord_{name}", args=args)


def pages(client, backend: str, failed: dict[str, list[str]], n: int) -> list[Row]:
    from djqueue import get_queue
    from djqueue.states import State

    queue = get_queue()
    queued = admin_url("list", "default", "queued")
    failing = admin_url("list", "default", "failed")
    command = list(FAILED)[1]
    [last] = queue.list_messages(State.QUEUED, QUEUED - 1, 1)
    message = failed[command][0]

    def get(url: str, **query: str) -> Callable[[], object]:
        full = f"{url}?{urlencode(query)}" if query else url
        return lambda: client.get(full)

    plan = [
        ("overview", get(admin_url("changelist")), 200),
        ("live.json", get(admin_url("live")), 200),
        ("queued list", get(queued), 200),
        ("queued list, page 1000", get(queued, page="1000"), 200),
        ("failed list", get(failing), 200),
        ("failed list, one command", get(failing, command=command), 200),
        ("queued, arguments contain", get(queued, argument=RARE_ARGUMENT), 200),
        ("failed, error contains", get(failing, error="Connection refused"), 200),
        ("failed, error contains (none)", get(failing, error="nowhere"), 200),
        ("message page (failed)", get(admin_url("message", "default", message)), 200),
        ("search by id (id/<id>/)", get(admin_url("change", last.id)), 302),
        ("list search by id", get(queued, q=last.id), 302),
        ("periodic page", get(admin_url("periodic")), 200),
        ("metrics", get("/djqueue/metrics"), 200),
    ]
    rows = [
        measure(name, backend, request, n, expect) for name, request, expect in plan
    ]
    deep = rows[3]
    deep.note = "the last page a list links to"
    rows[6].note = f"1 in {RARE:,} matches: stops at the scan's bound"
    rows[7].note = f"{FAILED[command]:,} of 5,000 match"
    rows[8].note = "examines all 5,000"
    return rows


def actions(client, backend: str, failed: dict[str, list[str]], n: int) -> list[Row]:
    rows = []
    queued = admin_url("list", "default", "queued")
    failing = admin_url("list", "default", "failed")
    target = next(iter(FAILED))

    # One message retried from its page: a different failed message each time.
    singles = iter(failed[list(FAILED)[2]])

    def retry_one():
        message_id = next(singles)
        page = client.get(admin_url("message", "default", message_id))
        action, hidden = form(page, "/retry/")
        return lambda: client.post(action, hidden)

    row = Row("retry one message", backend, [], [])
    for round_ in range(n + 1):
        post = retry_one()
        response, elapsed, calls = timed(post)
        assert response.status_code == 302, response.status_code
        if round_:
            row.times.append(elapsed)
            row.calls.append(calls)
    rows.append(row)

    def confirmation(list_url: str, action: str, **query: str):
        page = client.get(f"{list_url}?{urlencode(query)}" if query else list_url)
        url, hidden = form(page, "/bulk/")
        data = {**hidden, "action": action, "scope": "all"}
        return url, data

    retry_url, retry_data = confirmation(failing, "retry", command=target)
    cancel_url, cancel_data = confirmation(queued, "cancel")
    rows.append(
        measure(
            "bulk retry, all of one command: confirmation",
            backend,
            lambda: client.post(retry_url, retry_data),
            n,
            200,
        )
    )
    rows[-1].note = f"{FAILED[target]:,} messages"
    rows.append(
        measure(
            "bulk cancel, all queued: confirmation",
            backend,
            lambda: client.post(cancel_url, cancel_data),
            n,
            200,
        )
    )
    rows[-1].note = f"{QUEUED:,} messages"
    purge = admin_url("purge", "default", "failed")
    rows.append(
        measure(
            "purge one command's failed: confirmation",
            backend,
            lambda: client.get(f"{purge}?{urlencode({'command': target})}"),
            n,
            200,
        )
    )
    rows.append(
        measure(
            "purge all failed: confirmation", backend, lambda: client.get(purge), n, 200
        )
    )

    # Cancel all queued: the steps a browser posts, n of them after one.
    page = client.post(cancel_url, cancel_data)
    url, data = form(page, "/bulk/")
    row = Row("bulk cancel, all queued: one step", backend, [], [])
    for round_ in range(n + 1):
        response, elapsed, calls = timed(partial(client.post, url, data))
        assert response.status_code == 200, response.status_code
        url, data = form(response, "/bulk/")
        if round_:
            row.times.append(elapsed)
            row.calls.append(calls)
    row.note = "1,000 messages a step"
    rows.append(row)

    # Retry all failed of one command, to the end.
    page = client.post(retry_url, retry_data)
    url, data = form(page, "/bulk/")
    row = Row("bulk retry, all of one command: one step", backend, [], [])
    while True:
        response, elapsed, calls = timed(partial(client.post, url, data))
        row.times.append(elapsed)
        row.calls.append(calls)
        if response.status_code == 302:
            break
        assert response.status_code == 200, response.status_code
        url, data = form(response, "/bulk/")
    steps = len(row.times)
    row.note = f"{steps} steps"
    rows.append(row)
    total = Calls(*(sum(getattr(c, f) for c in row.calls) for f in FIELDS))
    rows.append(
        Row(
            "bulk retry, all of one command: whole run",
            backend,
            [sum(row.times)],
            [total],
            f"{FAILED[target]:,} messages in {steps} steps; counts are totals",
        )
    )
    from djqueue import get_queue
    from djqueue.states import State

    left = get_queue().scan_messages(State.FAILED, "", 1, command=target)
    if left.messages:
        raise SystemExit(f"retry all left failed messages of {target}")
    return rows


# -- Backends -------------------------------------------------------------------


def redis_settings(url: str, prefix: str) -> dict:
    return {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": url,
            "OPTIONS": {"PREFIX": prefix},
        }
    }


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key of ``prefix`` (SCAN and UNLINK, never FLUSHDB)."""
    import redis

    client = redis.Redis.from_url(url)
    deleted = 0
    for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
        keys = list(client.scan_iter(match=pattern, count=10_000))
        for start in range(0, len(keys), 1000):
            deleted += client.unlink(*keys[start : start + 1000])
    client.close()
    return deleted


def settle() -> None:
    """On PostgreSQL, vacuum and analyze the messages' table, as autovacuum
    does soon after 100,000 inserts: the plans are those of a settled table."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE djqueue_message")


def run_backend(name: str, queues: dict, n: int) -> list[Row]:
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from djqueue import get_queue
    from djqueue.backends.handler import reset_queues

    with override_settings(QUEUES=queues, DEBUG=False):
        reset_queues()
        queue = get_queue()
        queue.flush()
        started = time.perf_counter()
        failed = fill(queue)
        settle()
        print(
            f"{name}: filled in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
        user = get_user_model().objects.create_user(
            f"bench-{os.getpid()}-{len(name)}",
            password="secret-pw",
            is_staff=True,
            is_superuser=True,
        )
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        try:
            rows = pages(client, name, failed, n)
            rows += actions(client, name, failed, n)
        finally:
            queue.flush()
            reset_queues()
            user.delete()
    return rows


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "mysql":
        return "MariaDB" if connection.mysql_is_mariadb else "MySQL"
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(
        connection.vendor, connection.vendor
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=7, help="timed requests per page")
    parser.add_argument(
        "--backends",
        default="database,redis",
        help="database, redis or both (default)",
    )
    parser.add_argument("--rst", type=Path, help="write the table here, as RST")
    args = parser.parse_args(argv)
    if args.rst is not None and args.rst.resolve().is_relative_to(REPO_DIR):
        parser.error("--rst must name a file outside the repository")
    chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not chosen or set(chosen) - {"database", "redis"}:
        parser.error("--backends takes database, redis or both")
    setup_django()
    from django.db import connection

    from benchmarks.tables import rst, text_table

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    test_name = connection.settings_dict["NAME"]
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"admin-bench-{os.getpid()}"
    rows: list[Row] = []
    try:
        label = database_label()
        if "database" in chosen:
            database = {
                "default": {"BACKEND": "djqueue.backends.database.DatabaseQueue"}
            }
            rows += run_backend(f"DatabaseQueue ({label})", database, args.n)
        if "redis" in chosen:
            try:
                rows += run_backend("RedisQueue", redis_settings(url, prefix), args.n)
            finally:
                delete_prefix(url, prefix)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if connection.vendor == "sqlite":
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{test_name}{suffix}")
    body = [row.cells() for row in rows]
    print(text_table(HEAD, body))
    if args.rst is not None:
        title = (
            f"Admin requests at {QUEUED + sum(FAILED.values()):,} messages "
            f"({sum(FAILED.values()):,} failed), median of {args.n}"
        )
        args.rst.write_text(rst(title, HEAD, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
