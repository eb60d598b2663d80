"""How a consumer lives through a backend that fails or hangs: the outage
log on an injected clock, and real run_queue processes whose server hangs
or refuses connections, through a TCP proxy the test freezes or cuts
(tests/proxy.py)."""

import contextlib
import itertools
import logging
import re
import signal
import socket
import uuid
from urllib.parse import urlsplit

import pytest
from django.db import connection

from djqueue import State, get_queue
from djqueue.consumer.outages import Outage
from testproject.demo import commands
from testproject.demo.models import Run

from .conftest import REDIS_PREFIX, REDIS_URL, require_server
from .processes import ConsumerProcess, wait_until
from .proxy import TcpProxy

TRACEBACK = "Traceback (most recent call last)"
RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


class Notifications:
    """systemd's side of NOTIFY_SOCKET: a datagram socket the test reads."""

    def __init__(self, path):
        self.path = str(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)
        self.lines: list[str] = []

    def wait_for(self, line: str, timeout: float) -> None:
        """Read datagrams until ``line`` arrives; fail after ``timeout`` s."""
        self.socket.settimeout(timeout)
        while line not in self.lines:
            try:
                self.lines += self.socket.recv(4096).decode().split("\n")
            except TimeoutError:
                raise AssertionError(
                    f"no {line!r} within {timeout}s; got {self.lines}"
                ) from None

    def take(self) -> list[str]:
        taken, self.lines = self.lines, []
        return taken

    def close(self):
        self.socket.close()


@pytest.fixture
def redis_proxy(settings):
    """A proxy in front of the shared Redis; this process writes straight to
    Redis, the consumer through the proxy. Yields (proxy, environment)."""
    address = urlsplit(REDIS_URL)
    host, port = address.hostname or "127.0.0.1", address.port or 6379
    require_server("Redis", host, port)
    prefix = f"{REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"
    settings.QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": REDIS_URL,
            "OPTIONS": {"PREFIX": prefix},
        }
    }
    proxy = TcpProxy(host, port)
    env = {
        "DJQUEUE_BACKEND": "redis",
        "DJQUEUE_REDIS_URL": f"redis://127.0.0.1:{proxy.port}{address.path or '/0'}",
        "DJQUEUE_REDIS_PREFIX": prefix,
    }
    yield proxy, env
    proxy.close()
    get_queue().flush()


@pytest.fixture
def postgres_proxy():
    """A proxy in front of the shared PostgreSQL, for the consumer only."""
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass")
    settings_dict = connection.settings_dict
    proxy = TcpProxy(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"]))
    yield proxy, {"DJQUEUE_PG_PORT": str(proxy.port)}
    proxy.close()


@pytest.fixture(params=["redis", "postgres"])
def server_proxy(request):
    """A proxy in front of each server a consumer can be cut off."""
    return request.getfixturevalue(f"{request.param}_proxy")


def listens_on(queue_name: str) -> bool:
    """Whether a session of the test database last ran the LISTEN of a
    consumer of ``queue_name`` (a consumer waiting on its listener)."""
    from djqueue.backends.database.pg_notify import channel

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query = %s",
            [connection.settings_dict["NAME"], f'LISTEN "{channel(queue_name)}"'],
        )
        return cursor.fetchone()[0] > 0


def lines_with(text: str, log: str) -> int:
    return sum(text in line for line in log.splitlines())


def tracebacks(log: str) -> int:
    """Tracebacks logged (chained exceptions count once)."""
    lines = [line for line in log.splitlines() if line.strip()]
    chained = ("During handling of the above exception", "The above exception was")
    return sum(
        line.startswith(TRACEBACK) and not previous.startswith(chained)
        for previous, line in itertools.pairwise(["", *lines])
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.process
def test_sigterm_while_the_server_hangs_stops_at_once_and_loses_nothing(
    server_proxy, tmp_path
):
    """The server accepts and stops answering while the consumer holds two
    messages: it says once that the backend does not answer, keeps the
    watchdog fed, and on SIGTERM says STOPPING=1 at once and exits 69 within
    its grace period plus a few seconds. Once the server answers again,
    the two messages run (after their lease) on another consumer."""
    proxy, env = server_proxy
    notifications = Notifications(tmp_path / "notify.sock")
    env = {
        **env, "DJQUEUE_LEASE": "3", "NOTIFY_SOCKET": notifications.path,
        "WATCHDOG_USEC": "2000000",
    }  # fmt: skip
    # The held runs end once the gate exists: not before the first consumer
    # is gone, at once on the second.
    gate = tmp_path / "gate"
    held = [commands.record_until_file(str(gate), f"held-{n}") for n in range(2)]
    first = ConsumerProcess(
        tmp_path / "first.log", "-c", "2", "--grace-period", "1", env=env
    )
    second = None
    try:
        notifications.wait_for("READY=1", 30)
        wait_until(lambda: Run.objects.count() == 2, 30, "both runs", first)
        if "DJQUEUE_PG_PORT" in env:
            # Frozen once it waits on its LISTEN connection, not while it
            # makes it: the stall is then in a call of the main connection.
            wait_until(lambda: listens_on("default"), 30, "its LISTEN", first)
        proxy.freeze()
        with contextlib.suppress(AssertionError):  # asserted below
            wait_until(
                lambda: "has not answered" in first.log(), 20, "the stall", first
            )
        notifications.take()
        notifications.wait_for("WATCHDOG=1", 5)  # fed while it waits

        first.signal(signal.SIGTERM)
        notifications.wait_for("STOPPING=1", 5)
        assert first.wait(15) == 69
        log = first.log()
        assert lines_with("has not answered", log) == 1
        assert "Did not release 2 unfinished message(s)" in log

        proxy.thaw()
        gate.touch()
        # Verbose, so that a failure shows what it claimed and reclaimed.
        second = ConsumerProcess(tmp_path / "second.log", "-c", "2", "-v", "2", env=env)
        wait_until(
            lambda: all(r.status == State.DONE for r in held), 60, "the held runs",
            second,
        )  # fmt: skip
    finally:
        first.stop()
        if second is not None:
            second.stop()
        notifications.close()
    # Each message ran twice: once cut off, once to the end. The second run
    # is attempt 2 if its lease expired, or 1 if the release that the first
    # consumer gave up on reached the server once it answered again (written
    # to the socket before the hang, it is applied late): the attempt is not
    # counted then, as for any release.
    runs = sorted(Run.objects.values_list("message_id", "finished", "attempt"))
    assert [(m, finished) for m, finished, _ in runs] == sorted(
        (r.id, finished) for r in held for finished in (False, True)
    )
    assert all(attempt == 1 for _, finished, attempt in runs if not finished)
    assert all(attempt in (1, 2) for _, finished, attempt in runs if finished)


@pytest.mark.django_db(transaction=True)
@pytest.mark.process
def test_a_refused_connection_is_one_outage_in_the_log(server_proxy, tmp_path):
    """While the server refuses connections the log has one traceback and
    no recovery, however many steps fail (claims, housekeeping, storing the
    acknowledgements of two runs); after it, one recovery; every message
    done."""
    proxy, env = server_proxy
    # The runs end only once the server is cut, so both outcomes meet it.
    gate = tmp_path / "gate"
    messages = [commands.wait_for_file(str(gate)) for _ in range(2)]
    proc = ConsumerProcess(tmp_path / "consumer.log", "-c", "2", "-v", "2", env=env)
    try:
        wait_until(
            lambda: get_queue().counts()[State.RUNNING] == 2, 30, "both runs", proc
        )
        start = len(proc.log())
        proxy.cut()
        gate.touch()

        def during():
            return proc.log()[start:]

        wait_until(
            lambda: lines_with("(try 3)", during()) >= 1
            and lines_with("promote", during()) >= 3,
            60, "the outage to be retried", proc,
        )  # fmt: skip
        outage = during()
        proxy.restore()
        end = start + len(outage)
        wait_until(
            lambda: all(m.status == State.DONE for m in messages), 60, "both done",
            proc,
        )  # fmt: skip
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.stop()

    after = proc.log()[end:]
    assert tracebacks(outage) == 1, outage
    assert "answers again" not in outage
    assert after.count("answers again") == 1, after
    assert tracebacks(after) == 0, after
    # A run that ends during the outage is logged as it ends ("Done");
    # its acknowledgement waits for the backend.
    told = [
        line
        for line in outage.splitlines()
        if RECORD.match(line) and " DEBUG " not in line and " Done " not in line
    ]
    assert len(told) <= 3, told  # the error, and little else
    assert len(outage.splitlines()) - lines_with(" DEBUG ", outage) < 150


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def outage_log(caplog):
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
    ]


def test_an_outage_is_one_error_then_one_recovery(caplog):
    clock, closed = FakeClock(), []
    outage = Outage(clock, lambda: closed.append(1))
    for what in ("claim from queue 'default'", "promote", "record the outcome"):
        outage.failed(what, ConnectionError("refused"))
        clock.now += 1
    outage.answered(clock())
    clock.now += 1
    outage.answered(clock())

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert outage_log(caplog)[1:] == ["The queue backend answers again after 3.0s"]
    assert len(closed) == 3


def test_a_call_answered_before_the_outage_began_does_not_end_it(caplog):
    """A worker's call that started before another thread's failure ends no
    outage when its answer is reported after that failure."""
    clock = FakeClock()
    outage = Outage(clock, lambda: None)
    started = clock()
    clock.now += 1
    outage.failed("promote", ConnectionError("refused"))
    outage.answered(started)
    assert outage.since is not None
    assert not any("answers again" in line for line in outage_log(caplog))


def test_a_hang_is_told_once_per_outage_and_dates_it(caplog):
    clock = FakeClock()
    outage = Outage(clock, lambda: None)
    started = clock()
    clock.now += 6
    outage.stalled("claim from queue 'default'", 6.0, started)
    outage.stalled("promote", 12.0, started)
    outage.failed("claim from queue 'default'", TimeoutError("timed out"))
    clock.now += 30
    outage.answered(started)

    assert outage_log(caplog) == [
        "The queue backend has not answered for 6.0s (trying to claim from "
        "queue 'default'); waiting for it. The consumer still stops on SIGTERM.",
        "Cannot claim from queue 'default' (timed out); retrying with backoff "
        "until it answers",
        "The queue backend answers again after 36.0s",
    ]
