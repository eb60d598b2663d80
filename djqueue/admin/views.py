"""The admin pages that show queues and messages; none of them changes
anything (the actions are in :mod:`djqueue.admin.actions`).

Each page reads a bounded number of times from each queue, whatever the
number of messages: the overview a fixed number of calls per queue, a list
one page plus one message (to know whether a next page exists), a message
page one ``get``.
"""

from __future__ import annotations

from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import get_queue, queue_names
from ..exceptions import UnknownQueue
from ..periodic import periodic_commands
from ..registry import registry
from ..states import State
from .forms import MAX_PAGE, PER_PAGE, ListFilterForm
from .permissions import granted, require
from .reading import STATES, alive_consumers, cards, find_message, parse_id
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


def url(name: str, *args) -> str:
    return reverse(f"admin:djqueue_messagerecord_{name}", args=args)


def render(request, model_admin, template: str, title: str, **context):
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


def queue_or_404(name: str):
    if name not in queue_names():
        raise Http404(_("No queue is named %(name)s.") % {"name": name})
    try:
        return get_queue(name)
    except UnknownQueue:  # pragma: no cover - settings changed meanwhile
        raise Http404 from None


def state_or_404(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise Http404(_("No state is named %(name)s.") % {"name": value}) from None


def overview(request, model_admin):
    """Counts, age, throughput and consumers of every queue."""
    require(request.user, "view")
    now = timezone.now()
    queue_cards = cards(now)
    return render(
        request, model_admin, "overview.html", _("Queues"),
        cards=queue_cards, consumers=alive_consumers(queue_cards), now=now,
    )  # fmt: skip


def matching_commands(text: str) -> list[str]:
    """Registered command names containing ``text`` (exact match alone)."""
    names = [command.name for command in registry]
    if text in names:
        return [text]
    needle = text.casefold()
    return [name for name in names if needle in name.casefold()]


def message_list(request, model_admin, queue: str, state: str):
    """One page of the messages of ``queue`` in ``state``; never counted."""
    require(request.user, "view")
    backend, state = queue_or_404(queue), state_or_404(state)
    search, command, page = ListFilterForm(request.GET).values()
    matches: list[str] = []
    if search:
        message_id = parse_id(search)
        if message_id is not None:
            others = [name for name in queue_names() if name != queue]
            found = find_message(message_id, [queue, *others])
            if found is not None:
                return HttpResponseRedirect(url("message", found.queue, found.id))
            rows, has_next = [], False
        else:
            matches = matching_commands(search)
            if len(matches) == 1:
                command = matches[0]
    if search and not command:
        rows, has_next = [], False
    else:
        rows, has_next = read_page(backend, state, page, command)
    return render(
        request, model_admin, "list.html",
        _("%(state)s messages of %(queue)s") % {"state": state.label, "queue": queue},
        queue=queue, state=state, rows=rows, page=page, has_next=has_next,
        search=search, command=command, matches=matches,
        commands=[c.name for c in registry], queues=queue_names(),
        purgeable=state in PURGEABLE,
    )  # fmt: skip


def read_page(backend, state: State, page: int, command: str):
    """Return ``(messages, has_next)``: one extra message is read, no more.

    No next page is offered past ``MAX_PAGE``: skipping that deep costs the
    backend more than a page; filters reach the messages there.
    """
    offset = (page - 1) * PER_PAGE
    found = backend.list_messages(state, offset, PER_PAGE + 1, command=command or None)
    return found[:PER_PAGE], len(found) > PER_PAGE and page < MAX_PAGE


def message_detail(request, model_admin, queue: str, message_id: str):
    """Everything about one message, its payload decoded without running code."""
    require(request.user, "view")
    backend, message_id = queue_or_404(queue), parse_id(message_id)
    message = None if message_id is None else backend.get(message_id)
    if message is None:
        raise Http404(_("Queue %(queue)s holds no such message.") % {"queue": queue})
    can = granted(request.user)
    actions = [a for a in ACTIONS_BY_STATE.get(message.state, ()) if can[a]]
    return render(
        request, model_admin, "message.html",
        _("Message %(id)s") % {"id": message.id},
        queue=queue, message=message, actions=actions,
        arguments=show_arguments(message), result=show_result(message),
    )  # fmt: skip


def message_anywhere(request, model_admin, message_id: str):
    """Redirect to the message page of ``message_id`` on whichever queue
    holds it (the admin log links here): one ``get`` per queue at most."""
    require(request.user, "view")
    message_id = parse_id(message_id)
    message = None if message_id is None else find_message(message_id)
    if message is None:
        raise Http404(_("No queue holds this message."))
    return HttpResponseRedirect(url("message", message.queue, message.id))


def periodic(request, model_admin):
    """Periodic commands with their schedule, last tick and next run."""
    require(request.user, "view")
    now = timezone.now()
    ticks: dict[str, dict] = {}
    rows = []
    for entry in periodic_commands():
        name = entry.command.options.queue
        if name not in ticks:
            ticks[name] = last_ticks(name)
        last = ticks[name].get(entry.command.name)
        try:
            upcoming, error = entry.schedule.next(now), ""
        except Exception as exc:  # a cron schedule without croniter
            upcoming, error = None, str(exc)
        rows.append(
            {"entry": entry, "queue": name, "last": last, "next": upcoming,
             "error": error}
        )  # fmt: skip
    return render(
        request, model_admin, "periodic.html", _("Periodic commands"), rows=rows
    )


def last_ticks(name: str) -> dict:
    """The last ticks written on queue ``name`` ({} if it is not configured,
    which ``manage.py check`` reports)."""
    try:
        return get_queue(name).last_ticks()
    except UnknownQueue:
        return {}
