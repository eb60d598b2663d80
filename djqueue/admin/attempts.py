"""What the admin says about a message's attempts: how many ran, how many
retries an error still gets, and the delivery budget, apart.

A message's ``max_attempts`` is its delivery budget: it bounds every run,
those after an error and those after a lost worker alike. Its retries on
error are the command's ``retries`` option, never more than the budget
allows; a command without retries still has a budget above 1 when
``QUEUE_REDELIVERIES`` lets a message whose worker was lost run again.
"""

from __future__ import annotations

import dataclasses

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..envelope.history import (
    DONE,
    FAILED,
    LOST,
    RETRIED,
    RUNNING,
    Attempt,
    attempt_history,
)
from ..envelope.message import MAX_ATTEMPT_ERRORS, MAX_TRACEBACK_CHARS, Message
from ..states import FINISHED_STATES
from .timing import describe_duration

#: The states after which no attempt follows unless staff retry.


@dataclasses.dataclass(frozen=True, slots=True)
class Attempts:
    """The attempt counts of one message, in the words the pages use."""

    runs: int
    retries: int
    retries_left: int
    budget: int
    ended: bool

    @property
    def summary(self) -> str:
        """One line for the list: runs, retries left, budget."""
        runs = ngettext("%(n)d run", "%(n)d runs", self.runs) % {"n": self.runs}
        return f"{runs} · {self.retries_text} · {self.budget_text}"

    @property
    def retries_text(self) -> str:
        if not self.retries:
            return _("no retries on error")
        if self.ended:
            return _("retries: %(n)d allowed") % {"n": self.retries}
        return ngettext(
            "%(left)d of %(n)d retry left",
            "%(left)d of %(n)d retries left",
            self.retries,
        ) % {"left": self.retries_left, "n": self.retries}

    @property
    def budget_text(self) -> str:
        return ngettext(
            "at most %(n)d delivery", "at most %(n)d deliveries", self.budget
        ) % {"n": self.budget}

    @property
    def explanation(self) -> str:
        """The message page's sentence about the delivery budget."""
        if self.budget <= 1:
            return _("A message whose worker is lost while it runs is not run again.")
        return ngettext(
            "Up to %(n)d run in all, counting those after a lost worker "
            "(QUEUE_REDELIVERIES) as well as retries.",
            "Up to %(n)d runs in all, counting those after a lost worker "
            "(QUEUE_REDELIVERIES) as well as retries.",
            self.budget,
        ) % {"n": self.budget}


def attempts_of(message: Message) -> Attempts:
    """Count what ran and what may still run for ``message``."""
    budget = max(message.max_attempts, 1)
    retries = message.options.get("retries", budget - 1)
    retries = max(0, min(int(retries) if isinstance(retries, int) else 0, budget - 1))
    # A failure of attempt k is retried while k <= retries (and the budget lasts).
    left = max(0, retries + 1 - max(message.attempts, 1))
    return Attempts(
        message.attempts, retries, left, budget, message.state in FINISHED_STATES
    )


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryRow:
    """One attempt as the message page shows it."""

    attempt: Attempt
    outcome: str
    duration: str


def outcome_label(outcome: str) -> str:
    labels = {
        RUNNING: _("Running"),
        DONE: _("Done"),
        RETRIED: _("Failed, retried"),
        FAILED: _("Failed"),
        LOST: _("Worker lost"),
    }
    return labels.get(outcome, outcome)


def history_of(message: Message) -> list[HistoryRow]:
    """The attempts of ``message`` for its page, the latest first."""
    return [
        HistoryRow(each, outcome_label(each.outcome), describe_duration(each.duration))
        for each in reversed(attempt_history(message))
    ]


def history_note() -> str:
    """What the history keeps, for the message page."""
    return _(
        "The last %(n)d attempts that did not succeed are kept, each traceback "
        "cut to its last %(chars)s characters; the attempt that runs or "
        "succeeded is the message's own. A retry from the admin keeps them "
        "and counts attempts again from 1."
    ) % {"n": MAX_ATTEMPT_ERRORS, "chars": f"{MAX_TRACEBACK_CHARS:,}"}
