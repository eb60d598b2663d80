"""Fake consumer processes for the Supervisor tests (imported by spawned
children, so nothing here may need Django's apps at import)."""

import os


def exits_with(status, worker_id, orders):
    """Exit at once with ``status``, without saying READY."""
    return status


def never_ready(directory, worker_id, orders):
    """Leave a file per start in ``directory``, then crash before READY."""
    name = f"{worker_id.replace('/', '-')}-{os.getpid()}"
    with open(os.path.join(directory, name), "w"):
        pass
    raise RuntimeError("broken at start-up")
