"""Searching messages: what a list page found and where its links go, the
counts on its state tabs, and the overview's search box.

A list is searched by message id, by command (an exact name, or part of a
registered one), by a text its arguments contain and by a text its error
contains. A filtered list is a bounded scan
(:meth:`~djqueue.backends.inspection.Inspection.scan_messages`): a page
that stopped at the scan's bound says so and offers to search further.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from django.http import HttpResponseRedirect
from django.urls import reverse

from ..backends.handler import queue_names
from ..envelope.message import Message
from ..permissions import require
from ..states import State
from .forms import PER_PAGE, ListQuery, SearchForm
from .reading import STATES, QueueUnavailable, Reader, parse_id

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .model_admin import QueueAdmin


@dataclasses.dataclass(frozen=True)
class Listing:
    """What a list page shows: its messages, whether (and from which scan
    cursor) a next page goes on, how many messages a scan examined, and
    whether the list goes on past the last page numbers reach."""

    rows: list[Message] = dataclasses.field(default_factory=list)
    has_next: bool = False
    cursor: str = ""
    examined: int = 0
    beyond: bool = False

    @property
    def short(self) -> bool:
        """Whether a scan stopped at its bound before filling the page."""
        return bool(self.cursor) and len(self.rows) < PER_PAGE


def page_links(query: ListQuery, listing: Listing) -> dict[str, str]:
    """The query strings of the first, previous and next pages that exist
    (``""`` for the others): a scan goes on from its cursor and goes back
    to its first page only; an unfiltered list goes by page number."""
    links = {"first": "", "previous": "", "next": ""}
    if query.filtered:
        if query.page > 1:
            links["first"] = query.link()
        if listing.has_next:
            links["next"] = query.link(cursor=listing.cursor, page=query.page + 1)
        return links
    if query.page > 1:
        links["previous"] = query.link(page=query.page - 1)
    if listing.has_next:
        links["next"] = query.link(page=query.page + 1)
    return links


def state_tabs(
    reader: Reader, queue: str, listable: bool
) -> list[tuple[State, int | None]]:
    """Each state with its count on ``queue`` (one ``counts()`` call), or
    ``None`` counts when the queue cannot be counted."""
    counts: dict[State, int] = {}
    if listable:
        try:
            counts = reader.read(queue, lambda backend: backend.counts())
        except QueueUnavailable:
            counts = {}
    return [(state, counts.get(state)) for state in STATES]


def search(request: HttpRequest, model_admin: QueueAdmin) -> HttpResponseRedirect:
    """The overview's search box: a message id opens the message wherever
    it is; anything else opens the list of the queue and state chosen,
    searched. Nothing is read here."""
    require(request.user, "view")
    form = SearchForm(request.GET)
    overview = reverse("admin:djqueue_messagerecord_changelist")
    if not form.is_valid():
        return HttpResponseRedirect(overview)
    data = form.cleaned_data
    message_id = parse_id(data["q"])
    if message_id is not None:
        return HttpResponseRedirect(
            reverse("admin:djqueue_messagerecord_change", args=[message_id])
        )
    queue, state = data["queue"], data["state"]
    if queue not in queue_names() or state not in {each.value for each in STATES}:
        return HttpResponseRedirect(overview)
    found = ListQuery(
        search=data["q"].strip(),
        argument=data["argument"].strip(),
        error=data["error"].strip(),
    )
    listing = reverse("admin:djqueue_messagerecord_list", args=[queue, state])
    return HttpResponseRedirect(
        f"{listing}?{found.link()}" if found.link() else listing
    )
