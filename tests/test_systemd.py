"""systemd's notify protocol, against a datagram socket made by the test."""

import signal
import socket

import pytest

from djqueue.consumer.systemd import SystemdNotifier

from .processes import ConsumerProcess


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(20)
    yield path, sock
    sock.close()


def receive(sock):
    return sock.recv(4096).decode().split("\n")


def test_nothing_happens_without_notify_socket(monkeypatch):
    """Without NOTIFY_SOCKET no socket is even opened, whatever is called."""
    opened = []

    def no_socket(*args, **kwargs):
        opened.append(args)
        raise AssertionError("a socket was opened")

    monkeypatch.setattr("djqueue.consumer.systemd.socket.socket", no_socket)
    notifier = SystemdNotifier(environ={"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("status")
    notifier.watchdog()
    notifier.stopping(5)
    assert opened == []


def test_watchdog_is_for_us_only_when_the_pid_matches(notify_socket):
    path, _ = notify_socket
    other = SystemdNotifier(
        {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}
    )
    mine = SystemdNotifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"})
    assert other.watchdog_interval is None
    assert mine.watchdog_interval == 2.0


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_run_queue_says_ready_then_beats_then_stopping(notify_socket, tmp_path):
    path, sock = notify_socket
    proc = ConsumerProcess(
        tmp_path / "consumer.log",
        "--grace-period", "1",
        env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"},
    )  # fmt: skip
    try:
        states = []
        while len([s for s in states if s == "WATCHDOG=1"]) < 3:
            states += [line for line in receive(sock) if not line.startswith("STATUS=")]
        proc.signal(signal.SIGTERM)
        while "STOPPING=1" not in states:
            states += [line for line in receive(sock) if not line.startswith("STATUS=")]
        assert proc.wait(30) == 0
    finally:
        proc.stop()

    assert states[0] == "READY=1"
    assert states.count("READY=1") == 1
    stopping = states.index("STOPPING=1")
    assert set(states[1:stopping]) == {"WATCHDOG=1"}
    assert states[stopping + 1].startswith("EXTEND_TIMEOUT_USEC=")
