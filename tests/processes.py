"""Start and stop real ``run_queue`` processes against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.db import connection

MANAGE = Path(__file__).resolve().parent.parent / "testproject" / "manage.py"


class ConsumerProcess:
    """One ``manage.py run_queue`` process whose output goes to a log file."""

    def __init__(self, log_path: Path, *args: str, env: dict[str, str] | None = None):
        self.log_path = log_path
        environment = {
            **os.environ,
            "DJQUEUE_DB_NAME": str(connection.settings_dict["NAME"]),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(MANAGE), "run_queue", *args],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.pid = self.process.pid

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log = self.log()
            raise AssertionError(
                f"run_queue (pid {self.pid}) still running after {timeout}s:\n{log}"
            ) from None

    def stop(self) -> None:
        """Make sure the process is gone: SIGTERM, then SIGKILL."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def lost_and_repeated(results) -> tuple[set[str], set[str]]:
    """The ids of ``results`` that never ran and of the messages that ran
    more than once, from the ``Run`` rows the demo commands record."""
    from testproject.demo.models import Run

    runs = Counter(Run.objects.values_list("message_id", flat=True))
    lost = {result.id for result in results} - set(runs)
    return lost, {message_id for message_id, number in runs.items() if number > 1}


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, *procs
) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        for proc in procs:
            if proc.process.poll() is not None:
                raise AssertionError(
                    f"run_queue exited early while waiting for {what}:\n{proc.log()}"
                )
        if time.monotonic() > deadline:
            logs = "\n".join(proc.log()[-3000:] for proc in procs)
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}\n{logs}"
            )
        time.sleep(0.05)
