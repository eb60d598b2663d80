"""What a bulk action acts on, and how it travels between its requests.

A selection is either some messages of a list page, by id, or every message
of a state of a queue (of one command, when the list is filtered). The
confirmation page signs it, with the user, the action, the permission it
needs and how far the action got, into a token that each later request
sends back: a token that was changed, is older than :data:`MAX_AGE`, or was
made for another user, queue or state is refused. What the operator
confirmed is therefore what is acted on.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..states import State
from .forms import PER_PAGE
from .reading import parse_id

if TYPE_CHECKING:
    from django.http import QueryDict

#: Seconds a token is good for: each step of an action signs a new one.
MAX_AGE = 3600
_SALT = "djqueue.admin.bulk"


class BadSelection(Exception):
    """A request named no valid selection; the message says what was wrong."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """The messages a bulk action acts on, and its progress so far.

    ``ids`` are the messages picked on a list page; with ``every``, the
    selection is every message of ``state`` on ``queue`` (of ``command``
    if set) when the action reaches it, at most ``total`` of them (the
    count the confirmation page showed). ``permission`` is the one checked
    on each request: the action's own, or ``purge`` for a filtered purge.
    """

    queue: str
    state: State
    action: str
    permission: str
    ids: tuple[str, ...] = ()
    every: bool = False
    command: str = ""
    total: int = 0
    cursor: str = ""
    changed: int = 0
    examined: int = 0
    log_id: int | None = None

    def sign(self, user_pk: Any) -> str:
        data = dataclasses.asdict(self) | {"state": self.state.value, "user": user_pk}
        return signing.dumps(data, salt=_SALT, compress=True)

    @classmethod
    def from_token(
        cls, token: str, user_pk: Any, queue: str, state: State
    ) -> Selection:
        """Return the selection ``token`` holds; raise :exc:`BadSelection`
        unless it was signed for this user, queue and state, recently."""
        try:
            data = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
        except signing.SignatureExpired:
            raise BadSelection(
                "This confirmation is more than an hour old: select the messages again."
            ) from None
        except signing.BadSignature:
            raise BadSelection("This selection was altered: select again.") from None
        user = data.pop("user", None)
        data["ids"] = tuple(data["ids"])
        data["state"] = State(data["state"])
        selection = cls(**data)
        if user != user_pk or (selection.queue, selection.state) != (queue, state):
            raise BadSelection("This selection was made for another list.")
        return selection


def from_list(
    data: QueryDict, queue: str, state: State, action: str, permission: str
) -> Selection:
    """The selection a list page's form posted: ``ids`` (at most a page
    of them), or ``scope=all`` with the list's ``command`` filter."""
    command = data.get("command", "").strip()[:255]
    if data.get("scope") == "all":
        return Selection(queue, state, action, permission, every=True, command=command)
    ids = [parse_id(text) for text in data.getlist("ids")]
    if None in ids:
        raise BadSelection("A selected message id is not an id.")
    unique = tuple(dict.fromkeys(i for i in ids if i is not None))
    if len(unique) > PER_PAGE:
        raise BadSelection(f"At most {PER_PAGE} messages can be picked at once.")
    return Selection(queue, state, action, permission, ids=unique, command=command)


def describe(selection: Selection, count: int) -> str:
    """What the action did (or will do) to ``count`` messages, in words an
    operator reads: "Retried 4,812 failed messages of reports.send on
    queue emails"."""
    values = {
        "n": number_format(count, force_grouping=True),
        "state": selection.state.label.lower(),
        "queue": selection.queue,
        # Picked messages are named by id, whatever the list's filter was.
        "of": (_(" of %(command)s") % {"command": selection.command})
        if selection.command and selection.every
        else "",
    }
    if selection.action == "retry":
        text = ngettext(
            "Retried %(n)s %(state)s message%(of)s on queue %(queue)s",
            "Retried %(n)s %(state)s messages%(of)s on queue %(queue)s",
            count,
        )
    elif selection.action == "cancel":
        text = ngettext(
            "Cancelled %(n)s %(state)s message%(of)s on queue %(queue)s",
            "Cancelled %(n)s %(state)s messages%(of)s on queue %(queue)s",
            count,
        )
    elif selection.action == "run_now":
        text = ngettext(
            "Made %(n)s %(state)s message%(of)s on queue %(queue)s ready now",
            "Made %(n)s %(state)s messages%(of)s on queue %(queue)s ready now",
            count,
        )
    else:
        text = ngettext(
            "Deleted %(n)s %(state)s message%(of)s on queue %(queue)s",
            "Deleted %(n)s %(state)s messages%(of)s on queue %(queue)s",
            count,
        )
    return text % values
