"""``run_queue --processes N``: consumer processes under one supervisor that
systemd sees. Real processes on each backend, notifications read from a
fake NOTIFY_SOCKET; the exit status mapping on fake children."""

import os
import re
import signal

import pytest

from djqueue import State, get_queue
from djqueue.consumer.exit_statuses import (
    EXIT_CONFIG,
    EXIT_START_FAILED,
    EXIT_UNAVAILABLE,
    worst_status,
)
from djqueue.consumer.supervisor import Supervisor
from testproject.demo import commands
from testproject.demo.models import Run

from .processes import ConsumerProcess, wait_until
from .test_outages import Notifications, postgres_proxy, redis_proxy, server_proxy

__all__ = ["postgres_proxy", "redis_proxy", "server_proxy"]  # fixtures

#: Where the fake children of the Supervisor tests live.
CHILDREN = "tests.supervisor_children"
STARTED = re.compile(r"Started consumer process \S+/(\d+) \(pid (\d+)\)")


def children(proc) -> list[tuple[int, int]]:
    """(slot, pid) of every child the supervisor started, in order."""
    return [(int(slot), int(pid)) for slot, pid in STARTED.findall(proc.log())]


@pytest.fixture
def notifications(tmp_path):
    notifications = Notifications(tmp_path / "notify.sock")
    yield notifications
    notifications.close()


def systemd_env(notifications, watchdog_usec="2000000"):
    return {"NOTIFY_SOCKET": notifications.path, "WATCHDOG_USEC": watchdog_usec}


@pytest.mark.process
def test_ready_watchdog_then_a_graceful_stop(start_consumer, notifications):
    """READY once both children claimed, once; WATCHDOG forwarded; SIGTERM
    says STOPPING, lets the running message finish and exits 0."""
    proc = start_consumer("--processes", "2", "-c", "1", env=systemd_env(notifications))
    notifications.wait_for("READY=1", 60)
    assert len(children(proc)) == 2
    notifications.take()
    for _ in range(3):
        notifications.wait_for("WATCHDOG=1", 5)
        notifications.take()
    running = commands.slow_once("held", 3)
    wait_until(lambda: Run.objects.filter(label="held").exists(), 30, "the run", proc)
    proc.signal(signal.SIGTERM)
    notifications.wait_for("STOPPING=1", 5)
    assert proc.wait(60) == 0
    assert running.status == State.DONE
    assert list(Run.objects.values_list("attempt", "finished")) == [(1, True)]
    assert "READY=1" not in notifications.take()[1:]
    assert re.search(r"djqueue.consumer \[\S+/[12]\] Done ", proc.log())
    assert len(children(proc)) == 2  # nobody was replaced


@pytest.mark.process
def test_sigterm_to_every_process_is_one_graceful_stop(start_consumer):
    """systemd's default KillMode=control-group signals every process of
    the unit at once: the children take no signal for a second stop, so
    the running message finishes instead of being released."""
    running = commands.slow_once("held", 2)
    proc = start_consumer("--processes", "2", "-c", "1")
    wait_until(lambda: Run.objects.filter(label="held").exists(), 60, "the run", proc)
    for pid in [proc.pid] + [pid for _, pid in children(proc)]:
        os.kill(pid, signal.SIGTERM)
    assert proc.wait(60) == 0, proc.log()
    assert running.status == State.DONE
    assert "release" not in proc.log()


@pytest.mark.process
def test_a_second_sigterm_releases_at_once(start_consumer):
    """The second signal to the supervisor makes the children release
    their running messages now; the attempt is not counted."""
    running = commands.slow_once("held", 60)
    proc = start_consumer("--processes", "2", "-c", "1")
    wait_until(lambda: Run.objects.filter(label="held").exists(), 60, "the run", proc)
    proc.signal(signal.SIGTERM)
    wait_until(lambda: "told to stop" in proc.log(), 30, "the stop order", proc)
    proc.signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.log()
    assert "Released 1 unfinished message(s)" in proc.log()
    assert running.status == State.QUEUED
    assert get_queue().get(running.id).attempts == 0


@pytest.mark.process
def test_a_killed_child_is_replaced_and_nothing_is_lost(start_consumer):
    """SIGKILL one child while it runs a message: the supervisor starts
    another in its slot, the message runs again after its lease, and every
    message of the batch runs."""
    held = commands.slow_once("held", 30)
    proc = start_consumer("--processes", "2", "-c", "1", lease=2)
    wait_until(lambda: Run.objects.filter(label="held").exists(), 60, "the run", proc)
    victim = Run.objects.get(label="held").pid
    slot = {pid: slot for slot, pid in children(proc)}[victim]
    batch = commands.record_run.map([("batch",)] * 100)
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: [s for s, _ in children(proc)].count(slot) == 2, 30, "a new child",
        proc,
    )  # fmt: skip
    wait_until(
        lambda: held.status == State.DONE and all(r.ready() for r in batch),
        120, "every message", proc,
    )  # fmt: skip
    proc.signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert {r.status for r in batch} == {State.DONE}
    finished = set(
        Run.objects.filter(finished=True).values_list("message_id", flat=True)
    )
    assert finished == {r.id for r in batch} | {held.id}
    assert sorted(
        Run.objects.filter(label="held").values_list("attempt", "finished")
    ) == [(1, False), (2, True)]
    assert get_queue().counts()[State.QUEUED] == 0


@pytest.mark.process
def test_burst_drains_with_every_child_then_exits_0(start_consumer):
    batch = commands.record_run.map([("burst",)] * 200)
    proc = start_consumer("--processes", "2", "--burst")
    assert proc.wait(120) == 0
    assert {r.status for r in batch} == {State.DONE}
    assert Run.objects.count() == 200
    assert len(children(proc)) == 2


def gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie nobody reaped counts as gone).

    A process that is reaped between the open and the read makes the read
    fail with ``ESRCH``, which counts as gone too."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.mark.process
def test_children_stop_by_themselves_when_the_supervisor_is_killed(start_consumer):
    """SIGKILL the supervisor while a child runs a message: the children
    see it gone, stop gracefully (the message finishes) and exit."""
    running = commands.slow_once("held", 2)
    proc = start_consumer("--processes", "2", "-c", "1")
    wait_until(lambda: Run.objects.filter(label="held").exists(), 60, "the run", proc)
    pids = [pid for _, pid in children(proc)]
    proc.signal(signal.SIGKILL)
    proc.wait(10)
    try:
        wait_until(lambda: all(gone(pid) for pid in pids), 60, "the children to exit")
    finally:
        for pid in pids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
    assert running.status == State.DONE
    assert "The supervisor is gone; stopping" in proc.log()


@pytest.mark.django_db(transaction=True)
@pytest.mark.process
def test_a_child_started_while_the_server_hangs_does_not_starve_the_watchdog(
    server_proxy, notifications, tmp_path
):
    """After READY the server hangs and a child is killed: its replacement
    cannot get ready, yet WATCHDOG keeps going upstream (the other child
    still pings: it waits on a healthy process). SIGTERM then exits 69,
    the status of a stop without the backend's answer."""
    proxy, env = server_proxy
    env = {**env, **systemd_env(notifications), "DJQUEUE_LEASE": "3"}
    proc = ConsumerProcess(
        tmp_path / "supervisor.log", "--processes", "2", "-c", "1",
        "--grace-period", "1", env=env,
    )  # fmt: skip
    try:
        notifications.wait_for("READY=1", 60)
        proxy.freeze()
        (_, victim), *_ = children(proc)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(children(proc)) == 3, 30, "a replacement", proc)
        wait_until(
            lambda: "Consumer " in proc.log().split(f"pid {children(proc)[2][1]})")[1],
            60, "the replacement to start consuming", proc,
        )  # fmt: skip
        notifications.take()
        for _ in range(4):  # about four watchdog intervals of systemd
            notifications.wait_for("WATCHDOG=1", 5)
            notifications.take()
        proc.signal(signal.SIGTERM)
        notifications.wait_for("STOPPING=1", 5)
        assert proc.wait(60) == EXIT_UNAVAILABLE
    finally:
        proc.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.process
def test_a_configuration_error_exits_78_before_any_child(tmp_path):
    proc = ConsumerProcess(tmp_path / "supervisor.log", "--processes", "2", "nosuch")
    try:
        assert proc.wait(60) == EXIT_CONFIG
    finally:
        proc.stop()
    assert "nosuch" in proc.log()
    assert children(proc) == []


def test_the_worst_status_wins():
    assert worst_status([]) == 0
    assert worst_status([0, 0]) == 0
    assert worst_status([0, 3]) == 1
    assert worst_status([1, 69]) == 69
    assert worst_status([0, -signal.SIGKILL]) == EXIT_UNAVAILABLE
    assert worst_status([69, 70]) == EXIT_START_FAILED
    assert worst_status([70, 78, 0]) == EXIT_CONFIG


def test_a_child_config_error_stops_the_supervisor_with_78():
    """A child exiting 78 (a setting it alone saw wrong) is not replaced."""
    supervisor = Supervisor(
        2, f"{CHILDREN}.exits_with", EXIT_CONFIG, worker_id="t", grace_period=1
    )
    assert supervisor.run() == EXIT_CONFIG


def test_children_dying_at_start_up_stop_the_supervisor_with_70(tmp_path):
    supervisor = Supervisor(
        1, f"{CHILDREN}.never_ready", str(tmp_path), worker_id="t", grace_period=1
    )
    assert supervisor.run() == EXIT_START_FAILED
    assert len(os.listdir(tmp_path)) == 5


def test_burst_children_exit_and_so_does_the_supervisor():
    supervisor = Supervisor(
        2, f"{CHILDREN}.exits_with", 0, worker_id="t", grace_period=1, burst=True
    )
    assert supervisor.run() == 0
