"""The admin's bulk actions: retry, cancel, run now or delete many messages
of a list at once, and purge the messages of one command.

A list page posts its selection (messages picked by id, or every message
of the list's state and command filter) and the action; the answer is a
confirmation page that says how many messages and names the first ones.
Confirming posts the signed selection back (see
:mod:`~djqueue.admin.selection`). Picked messages are changed in that one
request. Every message of a state is changed in steps of at most
:data:`STEP`, each one request of two backend calls
(:meth:`~djqueue.backends.inspection.Inspection.change_scan`); between
steps a progress page posts the next step by itself (or with its button,
without JavaScript). A message is changed only while it is still in the
state it was selected in, so one that a colleague retried or a worker
started meanwhile is left alone.

Each request checks the CSRF token and the permission of the action; the
whole action is one entry of the admin log, written by its first step that
changed something and brought up to date by each later one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.http import (
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..permissions import require
from .actions import log, not_supported, purge_state, unreachable
from .reading import QueueUnavailable, Reader
from .selection import BadSelection, Selection, describe, from_list
from .views import ACTIONS_BY_STATE, PURGEABLE, queue_or_404, render, state_or_404, url

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from ..backends.base import BaseQueue
    from ..envelope.message import Message
    from .model_admin import QueueAdmin

#: Messages one request of a bulk action changes at most.
STEP = 1000
#: Messages a confirmation page names; it says how many more there are.
SHOWN = 10


def bulk_action(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, state: str
) -> HttpResponse:
    """Confirm a list's selection, or take the next step of a confirmed one."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    queue, state = queue_or_404(queue), state_or_404(state)
    try:
        if "token" in request.POST:
            selection = Selection.from_token(
                request.POST["token"], request.user.pk, queue, state
            )
            require(request.user, selection.permission)
            if request.POST.get("confirm") != "yes":
                raise BadSelection("This step was not confirmed.")
        else:
            action = request.POST.get("action", "")
            if action not in ACTIONS_BY_STATE[state]:
                raise BadSelection(f"{state.label} messages cannot take {action!r}.")
            require(request.user, action)
            selection = from_list(request.POST, queue, state, action, action)
    except BadSelection as exc:
        return HttpResponseBadRequest(str(exc))
    reader = Reader()
    if not reader.supports(queue, "supports_inspection"):
        messages.error(request, not_supported(queue))
        return HttpResponseRedirect(list_url(selection))
    if "token" in request.POST:
        return step(request, model_admin, reader, selection)
    if not selection.every and not selection.ids:
        messages.warning(request, _("Pick messages first, or act on all of them."))
        return HttpResponseRedirect(list_url(selection))
    return confirm(request, model_admin, reader, selection)


def purge(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, state: str
) -> HttpResponse:
    """Purge a state of a queue; filtered by a command, purge only its
    messages, as a bulk delete of every message of the filter."""
    # The list's link carries the filter in the query string; a POST that
    # names none there purges the whole state, after its own confirmation.
    command = request.GET.get("command", "").strip()[:255]
    if not command:
        return purge_state(request, model_admin, queue, state)
    require(request.user, "purge")
    queue, state = queue_or_404(queue), state_or_404(state)
    selection = Selection(queue, state, "delete", "purge", every=True, command=command)
    reader = Reader()
    if state not in PURGEABLE or not reader.supports(queue, "supports_inspection"):
        return purge_state(request, model_admin, queue, state)
    return confirm(request, model_admin, reader, selection)


def confirm(
    request: HttpRequest, model_admin: QueueAdmin, reader: Reader, selection: Selection
) -> HttpResponse:
    """The confirmation page: how many messages, the first ones, and the
    signed selection that its button posts."""
    queue, state = selection.queue, selection.state
    try:
        if selection.every:
            total = reader.read(queue, lambda backend: backend.counts()[state])
            selection = dataclasses.replace(selection, total=total)
            count = total
        else:
            count = len(selection.ids)
        shown = reader.read(queue, lambda backend: first_ones(backend, selection))
    except QueueUnavailable as exc:
        messages.error(request, unreachable(queue, exc.reason))
        return HttpResponseRedirect(list_url(selection))
    return render(
        request,
        model_admin,
        "confirm.html",
        describe_question(selection),
        queue=queue,
        state=state,
        selection=selection,
        count=count,
        shown=shown,
        more=max(0, count - len(shown)),
        form_action=url("bulk", queue, state),
        hidden={"token": selection.sign(request.user.pk), "confirm": "yes"},
        back=list_url(selection),
        running_delete=selection.action == "delete" and state == "running",
        step=number_format(STEP, force_grouping=True),
    )


def first_ones(
    backend: BaseQueue, selection: Selection
) -> list[tuple[str, Message | None]]:
    """The first messages of a selection as they are now, by id: one scan
    page for a whole state, one ``get`` per picked message shown."""
    if selection.every:
        command = selection.command or None
        scan = backend.scan_messages(selection.state, "", SHOWN, command=command)
        return [(message.id, message) for message in scan.messages]
    return [
        (message_id, backend.get(message_id)) for message_id in selection.ids[:SHOWN]
    ]


def step(
    request: HttpRequest, model_admin: QueueAdmin, reader: Reader, selection: Selection
) -> HttpResponse:
    """Change the next messages of a confirmed selection; show the progress
    page while messages remain, else go back to the list."""
    queue, state, action = selection.queue, selection.state, selection.action
    try:
        if selection.every:
            selection, done = reader.read(queue, lambda b: next_step(b, selection))
        else:
            changed = reader.read(
                queue,
                lambda backend: backend.change_messages(action, state, selection.ids),
            )
            selection, done = dataclasses.replace(selection, changed=changed), True
    except QueueUnavailable as exc:
        messages.error(request, unreachable(queue, exc.reason))
        return HttpResponseRedirect(list_url(selection))
    selection = record(request, selection)
    if not done:
        return render(
            request,
            model_admin,
            "progress.html",
            _("%(action)s: in progress") % {"action": describe_question(selection)},
            queue=queue,
            state=state,
            selection=selection,
            so_far=describe(selection, selection.changed),
            form_action=url("bulk", queue, state),
            hidden={"token": selection.sign(request.user.pk), "confirm": "yes"},
            back=list_url(selection),
        )
    report(request, selection)
    return HttpResponseRedirect(list_url(selection))


def next_step(backend: BaseQueue, selection: Selection) -> tuple[Selection, bool]:
    """Change the next messages of a whole state: ``(selection, done)``.
    Done at the end of the state, or once as many messages changed as the
    confirmation page counted."""
    limit = min(STEP, selection.total - selection.changed)
    if limit <= 0:
        return selection, True
    result = backend.change_scan(
        selection.action,
        selection.state,
        selection.cursor,
        limit,
        command=selection.command or None,
    )
    changed = selection.changed + result.changed
    selection = dataclasses.replace(
        selection,
        cursor=result.cursor,
        changed=changed,
        examined=selection.examined + result.examined,
    )
    return selection, not result.cursor or changed >= selection.total


def record(request: HttpRequest, selection: Selection) -> Selection:
    """Write the action's log entry once it changed something, or bring the
    entry its earlier steps wrote up to date."""
    if not selection.changed:
        return selection
    text = describe(selection, selection.changed)
    change = f"bulk {selection.action}: {selection.changed} on queue {selection.queue}"
    if selection.ids:
        change += " (" + ", ".join(selection.ids) + ")"
    if selection.log_id is not None:
        mine = LogEntry.objects.filter(pk=selection.log_id, user=request.user.pk)
        mine.update(object_repr=text[:200], change_message=change)
        return selection
    object_id = f"{selection.queue}:{selection.state}"
    if selection.command and selection.every:
        object_id += f":{selection.command}"
    flag = DELETION if selection.action == "delete" else CHANGE
    entry = log(request, object_id, text, flag, change)
    return dataclasses.replace(selection, log_id=entry.pk)


def report(request: HttpRequest, selection: Selection) -> None:
    """Say what the finished action did, and what it left alone."""
    messages.success(request, describe(selection, selection.changed) + ".")
    left = len(selection.ids) - selection.changed
    if selection.ids and left:
        messages.warning(
            request,
            ngettext(
                "%(n)d picked message was no longer %(state)s and was left alone.",
                "%(n)d picked messages were no longer %(state)s and were left alone.",
                left,
            )
            % {"n": left, "state": selection.state.label.lower()},
        )


def describe_question(selection: Selection) -> str:
    words = {
        "retry": _("Retry"),
        "cancel": _("Cancel"),
        "run_now": _("Run now"),
        "delete": _("Delete"),
    }
    return _("%(action)s %(state)s messages of %(queue)s") % {
        "action": words[selection.action],
        "state": selection.state.label.lower(),
        "queue": selection.queue,
    }


def list_url(selection: Selection) -> str:
    """The list the selection was made on, with its command filter."""
    base = url("list", selection.queue, selection.state)
    return (
        f"{base}?{urlencode({'command': selection.command})}"
        if selection.command
        else base
    )
