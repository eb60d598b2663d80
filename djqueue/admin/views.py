"""The admin pages that show queues and messages; none of them changes
anything (the actions are in :mod:`djqueue.admin.actions`).

Each page reads a bounded number of times from each queue, whatever the
number of messages: the overview a fixed number of calls per queue, a list
one page plus one message (to know whether a next page exists), a filtered
list one bounded scan, a message page one ``get``. Reads go through a
:class:`~djqueue.admin.reading.Reader`: a queue that cannot be read is
shown as unavailable and is not asked again while the page is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from ..backends.base import BaseQueue
    from ..message import Message
    from .model_admin import QueueAdmin

import dataclasses

from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..periodic import periodic_commands
from ..queues import queue_names
from ..registry import registry
from ..states import State
from .forms import MAX_PAGE, PER_PAGE, ListFilterForm
from .permissions import granted, require
from .reading import (
    STATES,
    QueueUnavailable,
    Reader,
    alive_consumers,
    cards,
    find_message,
    parse_id,
)
from .safe_display import show_arguments, show_result

#: The actions offered for a message in each state.
ACTIONS_BY_STATE = {
    State.FAILED: ("retry", "delete"),
    State.CANCELLED: ("retry", "delete"),
    State.SCHEDULED: ("run_now", "cancel", "delete"),
    State.QUEUED: ("cancel", "delete"),
    State.RUNNING: ("delete",),
    State.DONE: ("delete",),
}

#: States that can be purged: a running message belongs to its worker.
PURGEABLE = frozenset(STATES) - {State.RUNNING}


def url(name: str, *args: object) -> str:
    return reverse(f"admin:djqueue_messagerecord_{name}", args=args)


def render(
    request: HttpRequest,
    model_admin: QueueAdmin,
    template: str,
    title: str,
    **context: Any,
) -> HttpResponse:
    """Render a page of ours inside the admin's layout."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "app_label": model_admin.model._meta.app_label,
        "title": title,
        "can": granted(request.user),
        "states": STATES,
        **context,
    }
    return TemplateResponse(request, f"djqueue/admin/{template}", context)


def render_unavailable(
    request: HttpRequest, model_admin: QueueAdmin, title: str, reader: Reader
) -> HttpResponse:
    """A page that could not be built because queues cannot be read."""
    return render(
        request,
        model_admin,
        "unavailable.html",
        title,
        unavailable=sorted(reader.unavailable.items()),
    )


def queue_or_404(name: str) -> str:
    """Return ``name`` if a queue is configured under it."""
    if name not in queue_names():
        raise Http404(_("No queue is named %(name)s.") % {"name": name})
    return name


def state_or_404(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise Http404(_("No state is named %(name)s.") % {"name": value}) from None


def overview(request: HttpRequest, model_admin: QueueAdmin) -> HttpResponse:
    """Counts, age, throughput and consumers of every queue."""
    require(request.user, "view")
    now = timezone.now()
    queue_cards = cards(Reader(), now)
    return render(
        request,
        model_admin,
        "overview.html",
        _("Queues"),
        cards=queue_cards,
        consumers=alive_consumers(queue_cards),
        now=now,
        tracks_consumers=any(
            card.tracks_consumers or card.error for card in queue_cards
        ),
    )


def matching_commands(text: str) -> list[str]:
    """Registered command names containing ``text`` (exact match alone)."""
    names = [command.name for command in registry]
    if text in names:
        return [text]
    needle = text.casefold()
    return [name for name in names if needle in name.casefold()]


@dataclasses.dataclass(frozen=True)
class Listing:
    """What a list page shows: its messages, whether (and from which scan
    cursor) a next page goes on, and how many messages a scan examined."""

    rows: list[Message] = dataclasses.field(default_factory=list)
    has_next: bool = False
    cursor: str = ""
    examined: int = 0

    @property
    def short(self) -> bool:
        """Whether a scan stopped at its bound before filling the page."""
        return bool(self.cursor) and len(self.rows) < PER_PAGE


def message_list(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, state: str
) -> HttpResponse:
    """One page of the messages of ``queue`` in ``state``; never counted."""
    require(request.user, "view")
    queue, state = queue_or_404(queue), state_or_404(state)
    search, command, page, cursor = ListFilterForm(request.GET).values()
    reader, matches, listing = Reader(), [], None
    if search:
        message_id = parse_id(search)
        if message_id is not None:
            others = [name for name in queue_names() if name != queue]
            found = find_message(reader, message_id, [queue, *others])
            if found is not None:
                return HttpResponseRedirect(url("message", found.queue, found.id))
            listing = Listing()
        else:
            matches = matching_commands(search)
            if len(matches) == 1:
                command = matches[0]
    listable = reader.supports(queue, "supports_inspection")
    if listing is None and ((search and not command) or not listable):
        listing = Listing()
    if listing is None:
        if command and not cursor:
            page = 1
        listing = read_listing(reader, queue, state, page, command, cursor)
    return render(
        request,
        model_admin,
        "list.html",
        _("%(state)s messages of %(queue)s") % {"state": state.label, "queue": queue},
        queue=queue,
        state=state,
        rows=listing.rows,
        page=page,
        has_next=listing.has_next,
        cursor=listing.cursor,
        listing=listing,
        search=search,
        command=command,
        matches=matches,
        commands=[c.name for c in registry],
        queues=queue_names(),
        purgeable=state in PURGEABLE and listable,
        unsupported=not listable,
        unavailable=reader.unavailable.get(queue, ""),
        elsewhere=sorted(
            (name, why) for name, why in reader.unavailable.items() if name != queue
        ),
    )


def read_listing(
    reader: Reader, queue: str, state: State, page: int, command: str, cursor: str
) -> Listing:
    """Read one page: by page number, or for a command filter, by scan."""
    try:
        if command:
            return reader.read(queue, lambda q: scan_page(q, state, command, cursor))
        return reader.read(queue, lambda q: read_page(q, state, page))
    except QueueUnavailable:
        return Listing()


def scan_page(backend: BaseQueue, state: State, command: str, cursor: str) -> Listing:
    """The next page of a filtered scan: at most ``PER_PAGE`` matches, found
    by examining a bounded number of messages (``INSPECT_SCAN_LIMIT``)."""
    try:
        scan = backend.scan_messages(state, cursor, PER_PAGE, command=command)
    except ValueError:  # not a cursor of this queue: start again
        scan = backend.scan_messages(state, "", PER_PAGE, command=command)
    return Listing(scan.messages, bool(scan.cursor), scan.cursor, scan.examined)


def read_page(backend: BaseQueue, state: State, page: int) -> Listing:
    """Read one unfiltered page by number: one extra message is read.

    No next page is offered past ``MAX_PAGE``: skipping that deep costs the
    backend more than a page; filters reach the messages there.
    """
    offset = (page - 1) * PER_PAGE
    found = backend.list_messages(state, offset, PER_PAGE + 1)
    return Listing(found[:PER_PAGE], len(found) > PER_PAGE and page < MAX_PAGE)


def message_detail(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, message_id: str
) -> HttpResponse:
    """Everything about one message, its payload decoded without running code."""
    require(request.user, "view")
    queue, wanted = queue_or_404(queue), parse_id(message_id)
    reader, message = Reader(), None
    if wanted is not None:
        try:
            message = reader.read(queue, lambda backend: backend.get(wanted))
        except QueueUnavailable:
            return render_unavailable(request, model_admin, _("Message"), reader)
    if message is None:
        raise Http404(_("Queue %(queue)s holds no such message.") % {"queue": queue})
    can = granted(request.user)
    actions = [a for a in ACTIONS_BY_STATE.get(message.state, ()) if can[a]]
    if not reader.supports(queue, "supports_inspection"):
        actions = []  # each is an inspection call
    return render(
        request,
        model_admin,
        "message.html",
        _("Message %(id)s") % {"id": message.id},
        queue=queue,
        message=message,
        actions=actions,
        arguments=show_arguments(message),
        result=show_result(message),
    )


def message_anywhere(
    request: HttpRequest, model_admin: QueueAdmin, message_id: str
) -> HttpResponse:
    """Redirect to the message page of ``message_id`` on whichever queue
    holds it (the admin log links here): one ``get`` per queue at most."""
    require(request.user, "view")
    wanted, reader = parse_id(message_id), Reader()
    message = None if wanted is None else find_message(reader, wanted)
    if message is not None:
        return HttpResponseRedirect(url("message", message.queue, message.id))
    if reader.unavailable:
        return render_unavailable(request, model_admin, _("Message"), reader)
    raise Http404(_("No queue holds this message."))


def periodic(request: HttpRequest, model_admin: QueueAdmin) -> HttpResponse:
    """Periodic commands with their schedule, last tick and next run."""
    require(request.user, "view")
    now, reader = timezone.now(), Reader()
    ticks: dict[str, dict[str, datetime] | None] = {}
    rows = []
    for entry in periodic_commands():
        name = entry.command.options.queue
        if name not in ticks:
            ticks[name] = last_ticks(reader, name)
        last = (ticks[name] or {}).get(entry.command.name)
        try:
            upcoming, error = entry.schedule.next(now), ""
        except Exception as exc:  # a cron schedule without croniter
            upcoming, error = None, str(exc)
        rows.append(
            {
                "entry": entry,
                "queue": name,
                "last": last,
                "next": upcoming,
                "error": error,
                "unavailable": reader.unavailable.get(name, ""),
                "unsupported": ticks[name] is None,
            }
        )
    return render(
        request, model_admin, "periodic.html", _("Periodic commands"), rows=rows
    )


def last_ticks(reader: Reader, name: str) -> dict[str, datetime] | None:
    """The last ticks written on queue ``name``: {} if it is not configured
    (``manage.py check`` reports it) or cannot be read (the row says so),
    ``None`` if its backend does not support periodic ticks."""
    if name not in queue_names():
        return {}
    if not reader.supports(name, "supports_periodic"):
        return None
    try:
        return reader.read(name, lambda queue: queue.last_ticks())
    except QueueUnavailable:
        return {}
