"""The states a message moves through.

``scheduled`` (eta in the future) → ``queued`` (ready) → ``running`` (leased to
one worker) → ``done`` (kept while its result is retained) or ``failed`` (the
dead letter), or back to ``queued``/``scheduled`` (retry, lease expiry,
released at shutdown). ``cancelled`` is reachable from ``queued`` and
``scheduled`` only; so is ``expired``, for a message that was not started
by its deadline (the ``expires`` option), which never runs.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


#: States a message can still leave on its own.
PENDING_STATES = frozenset({State.SCHEDULED, State.QUEUED, State.RUNNING})

#: States a message never leaves except by an operator's action or expiry.
FINISHED_STATES = frozenset({State.DONE, State.FAILED, State.CANCELLED, State.EXPIRED})
