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

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from ..backends.base import BaseQueue
    from .model_admin import QueueAdmin

import dataclasses

from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..backends.base import INSPECT_SCAN_LIMIT
from ..backends.handler import queue_names
from ..commands.registry import registry
from ..permissions import granted, require
from ..states import State
from .attempts import attempts_of, history_note, history_of
from .forms import MAX_PAGE, PER_PAGE, ListFilterForm, ListQuery
from .live import REFRESH_SECONDS
from .paging import page_problem, past_the_end
from .reading import (
    STATES,
    QueueUnavailable,
    Reader,
    alive_consumers,
    cards,
    find_message,
    parse_id,
    read_pause,
)
from .safe_display import show_arguments, show_result
from .search import Listing, page_links, state_tabs

#: The actions offered for a message in each state.
ACTIONS_BY_STATE = {
    State.FAILED: ("retry", "delete"),
    State.CANCELLED: ("retry", "delete"),
    State.EXPIRED: ("retry", "delete"),
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
        refresh_seconds=REFRESH_SECONDS,
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


def message_list(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, state: str
) -> HttpResponse:
    """One page of the messages of ``queue`` in ``state``; never counted."""
    require(request.user, "view")
    queue, state = queue_or_404(queue), state_or_404(state)
    query = ListFilterForm(request.GET).query(MAX_PAGE)
    scanning = bool(query.filtered and query.cursor)
    problem = page_problem(request.GET.get("page"), MAX_PAGE, scanning)
    reader, matches, listing = Reader(), [], None
    if query.search:
        message_id = parse_id(query.search)
        if message_id is not None:
            others = [name for name in queue_names() if name != queue]
            found = find_message(reader, message_id, [queue, *others])
            if found is not None:
                return HttpResponseRedirect(url("message", found.queue, found.id))
            listing = Listing()
        else:
            matches = matching_commands(query.search)
            if len(matches) == 1:
                query = dataclasses.replace(query, command=matches[0])
    listable, can = reader.supports(queue, "supports_inspection"), granted(request.user)
    if listing is None and ((query.search and not query.command) or not listable):
        listing = Listing()
    if listing is None:
        if query.filtered and not query.cursor:
            query = dataclasses.replace(query, page=1)
        listing = read_listing(reader, queue, state, query)
        if not problem and query.page > 1 and not listing.rows and not query.filtered:
            problem = past_the_end(query.page)
    pause, pausable = read_pause(reader, queue)
    response = render(
        request,
        model_admin,
        "list.html",
        _("%(state)s messages of %(queue)s") % {"state": state.label, "queue": queue},
        queue=queue,
        state=state,
        rows=listing.rows,
        page=query.page,
        has_next=listing.has_next,
        cursor=listing.cursor,
        listing=listing,
        search=query.search,
        command=query.command,
        query=query,
        links=page_links(query, listing),
        tabs=state_tabs(reader, queue, listable),
        pause=pause,
        pausable=pausable,
        matches=matches,
        commands=[c.name for c in registry],
        queues=queue_names(),
        purgeable=state in PURGEABLE and listable,
        bulk_actions=[a for a in ACTIONS_BY_STATE[state] if listable and can[a]],
        unsupported=not listable,
        unavailable=reader.unavailable.get(queue, ""),
        elsewhere=sorted(
            (name, why) for name, why in reader.unavailable.items() if name != queue
        ),
        page_problem=problem,
        max_page=MAX_PAGE,
        scan_limit=INSPECT_SCAN_LIMIT,
    )
    response.status_code = 404 if problem else 200
    return response


def read_listing(reader: Reader, queue: str, state: State, query: ListQuery) -> Listing:
    """Read one page: by page number, or for a filtered list, by scan."""
    try:
        if query.filtered:
            return reader.read(queue, lambda q: scan_page(q, state, query))
        return reader.read(queue, lambda q: read_page(q, state, query.page))
    except QueueUnavailable:
        return Listing()


def scan_page(backend: BaseQueue, state: State, query: ListQuery) -> Listing:
    """The next page of a filtered scan: at most ``PER_PAGE`` matches, found
    by examining a bounded number of messages (``INSPECT_SCAN_LIMIT``)."""
    filters = {
        "command": query.command or None,
        "argument": query.argument or None,
        "error": query.error or None,
    }
    try:
        scan = backend.scan_messages(state, query.cursor, PER_PAGE, **filters)
    except ValueError:  # not a cursor of this queue: start again
        scan = backend.scan_messages(state, "", PER_PAGE, **filters)
    return Listing(scan.messages, bool(scan.cursor), scan.cursor, scan.examined)


def read_page(backend: BaseQueue, state: State, page: int) -> Listing:
    """Read one unfiltered page by number: one extra message is read.

    No next page is offered past ``MAX_PAGE``: skipping that deep costs the
    backend more than a page; filters reach the messages there.
    """
    offset = (page - 1) * PER_PAGE
    found = backend.list_messages(state, offset, PER_PAGE + 1)
    more = len(found) > PER_PAGE
    return Listing(
        found[:PER_PAGE], more and page < MAX_PAGE, beyond=more and page >= MAX_PAGE
    )


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
        attempts=attempts_of(message),
        history=history_of(message),
        history_note=history_note(),
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
