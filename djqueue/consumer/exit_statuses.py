"""The exit statuses of ``run_queue``, from sysexits where one fits.

A consumer exits with one of them, and a supervisor with the worst of its
children's (:func:`worst_status`), so that systemd, or whoever started it,
learns the most telling thing that happened.
"""

from __future__ import annotations

import signal

#: Every child stopped after a graceful stop (or burst).
EXIT_OK = 0
#: Stopped without the backend's answer, or a child killed: messages not
#: released run again once their lease expires (sysexits' EX_UNAVAILABLE).
EXIT_UNAVAILABLE = 69
#: Children kept dying before they got ready (sysexits' EX_SOFTWARE).
EXIT_START_FAILED = 70
#: A configuration error (sysexits' EX_CONFIG); systemd units list it in
#: RestartPreventExitStatus.
EXIT_CONFIG = 78
#: Worst first: the status the supervisor exits with when children differ.
SEVERITY = (EXIT_CONFIG, EXIT_START_FAILED, EXIT_UNAVAILABLE, 1, EXIT_OK)


def worst_status(statuses: list[int]) -> int:
    """The status that says the most: 78 over 70 over 69 over any other
    failure (1) over 0. A child killed by a signal (a negative status from
    multiprocessing) counts as 69: its messages were not released."""
    ranked = set()
    for status in statuses:
        if status < 0:
            status = EXIT_UNAVAILABLE
        ranked.add(status if status in SEVERITY else 1)
    return next((status for status in SEVERITY if status in ranked), EXIT_OK)


def describe(status: int) -> str:
    """How a process ended, for the log: its status, or the signal that
    killed it (a negative status from multiprocessing)."""
    if status < 0:
        return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"
