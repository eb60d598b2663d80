"""The admin actions on one message: retry, run now, cancel and delete
(which asks first, on a confirmation page), and purge (the bulk actions are
in :mod:`djqueue.admin.bulk`).

Every action is a POST (CSRF-protected by the admin's middleware), needs its
own permission (a 403 otherwise, whatever buttons the page showed), goes
through the backend's inspection API (its bounded twin: a queue that does not
answer is reported, not waited for; a backend without inspection is said not
to support it), and is written to Django's admin log
when it changed something. The log entry names the MessageRecord content
type with the message id as ``object_id``, whichever backend holds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse
    from django_stubs_ext import StrOrPromise

    from ..envelope.message import Message
    from .model_admin import QueueAdmin

import dataclasses

from django.contrib import messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import MessageRecord
from ..permissions import require
from ..signals import message_cancelled, send
from ..states import State
from .reading import QueueUnavailable, Reader, parse_id
from .views import PURGEABLE, queue_or_404, render, state_or_404, url


@dataclasses.dataclass(frozen=True)
class Action:
    method: str
    flag: int
    done: StrOrPromise
    refused: StrOrPromise
    #: How the admin log tells it, as the start of a sentence.
    logged: str = ""


ACTIONS = {
    "retry": Action(
        "retry",
        CHANGE,
        gettext_lazy("The message was put back on the queue."),
        gettext_lazy(
            "The message was not retried: it is neither failed, cancelled nor expired."
        ),
        "Retried",
    ),
    "run_now": Action(
        "run_now",
        CHANGE,
        gettext_lazy("The message is ready to run now."),
        gettext_lazy("The message was not moved: it is not scheduled."),
        "Ran now",
    ),
    "cancel": Action(
        "cancel",
        CHANGE,
        gettext_lazy("The message was cancelled; it will not run."),
        gettext_lazy(
            "The message was not cancelled: it is neither queued nor scheduled."
        ),
        "Cancelled",
    ),
    "delete": Action(
        "delete",
        DELETION,
        gettext_lazy("The message was deleted."),
        gettext_lazy("The message was already gone."),
        "Deleted",
    ),
}


def log(
    request: HttpRequest, object_id: str, text: str, flag: int, change: str
) -> LogEntry:
    """Write one admin log entry about a message (or a purge) of any backend."""
    return LogEntry.objects.create(
        # The user passed require(): not anonymous, so it has a key.
        user_id=request.user.pk,  # type: ignore[misc]
        content_type=ContentType.objects.get_for_model(MessageRecord),
        object_id=object_id,
        object_repr=text[:200],
        action_flag=flag,
        change_message=change,
    )


def _cancelled(reader: Reader, queue: str, message: Message) -> None:
    """Send ``message_cancelled`` with the message as it is now, cancelled."""
    try:
        now = reader.read(queue, lambda backend: backend.get(message.id))
    except QueueUnavailable:
        now = None
    send(message_cancelled, now or message)


def message_action(
    request: HttpRequest,
    model_admin: QueueAdmin,
    queue: str,
    message_id: str,
    action: str,
) -> HttpResponse:
    """Apply ``action`` to one message, then go back to its page (or list).

    Delete asks first, on a confirmation page, and then deletes the message
    only if it is still in the state that page showed.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if action not in ACTIONS:
        raise Http404
    require(request.user, action)
    spec, queue, reader = ACTIONS[action], queue_or_404(queue), Reader()
    if not reader.supports(queue, "supports_inspection"):
        messages.error(request, not_supported(queue))
        return HttpResponseRedirect(url("message", queue, message_id))
    shown = request.POST.get("state", "")
    confirmed = request.POST.get("confirm") == "yes" and shown in State.values
    try:
        message = read(reader, queue, parse_id(message_id))
        if action == "delete" and not confirmed:
            return confirm_delete(request, model_admin, queue, message)
        if action == "delete":
            changed = reader.read(
                queue,
                lambda backend: backend.change_messages(
                    "delete", State(shown), [message.id]
                ),
            )
        else:
            changed = reader.read(
                queue, lambda backend: getattr(backend, spec.method)(message.id)
            )
    except QueueUnavailable as exc:
        messages.error(request, unreachable(queue, exc.reason))
        return HttpResponseRedirect(url("list", queue, State.QUEUED))
    if changed:
        text = f"{message.command} ({queue}, was {message.state})"
        log(request, message.id, text, spec.flag, logged(spec, message, queue))
        messages.success(request, spec.done)
        if action == "cancel" and message_cancelled.receivers:
            _cancelled(reader, queue, message)
    elif action == "delete" and message.state != shown:
        messages.warning(
            request,
            _("The message was not deleted: it is %(state)s now, no longer %(shown)s.")
            % {"state": message.state.label, "shown": State(shown).label},
        )
    else:
        messages.warning(request, spec.refused)
    if action == "delete" and changed:
        return HttpResponseRedirect(url("list", queue, message.state))
    return HttpResponseRedirect(url("message", queue, message.id))


def logged(spec: Action, message: Message, queue: str) -> str:
    """The admin log's sentence: "Ran now message 0f3a1b2c… of reports.send
    on queue emails." (the log entry's object id is the whole id)."""
    short = message.id[:8]
    return f"{spec.logged} message {short}… of {message.command} on queue {queue}."


def read(reader: Reader, queue: str, message_id: str | None) -> Message:
    """The message ``message_id`` of ``queue``, or a 404."""
    message = None
    if message_id is not None:
        message = reader.read(queue, lambda backend: backend.get(message_id))
    if message is None:
        raise Http404(_("Queue %(queue)s holds no such message.") % {"queue": queue})
    return message


def confirm_delete(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, message: Message
) -> HttpResponse:
    """The page that asks before one message is deleted."""
    return render(
        request,
        model_admin,
        "confirm.html",
        _("Delete message %(id)s") % {"id": message.id},
        queue=queue,
        state=message.state,
        count=1,
        shown=[(message.id, message)],
        more=0,
        form_action=url("action", queue, message.id, "delete"),
        hidden={"confirm": "yes", "state": message.state.value},
        back=url("message", queue, message.id),
        running_delete=message.state == State.RUNNING,
        single=True,
    )


def purge_state(
    request: HttpRequest, model_admin: QueueAdmin, queue: str, state: str
) -> HttpResponse:
    """Confirm (GET) and purge (POST) every message of a state of a queue."""
    require(request.user, "purge")
    queue, state, reader = queue_or_404(queue), state_or_404(state), Reader()
    if state not in PURGEABLE:
        raise Http404(_("Running messages cannot be purged."))
    if not reader.supports(queue, "supports_inspection"):
        messages.error(request, not_supported(queue))
        return HttpResponseRedirect(url("list", queue, state))
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            removed = reader.read(queue, lambda backend: backend.purge(state))
        except QueueUnavailable as exc:
            messages.error(request, unreachable(queue, exc.reason))
            return HttpResponseRedirect(url("list", queue, state))
        text = f"{state} messages of queue {queue}"
        change = (
            f"Purged {removed} {state} message{'s' * (removed != 1)} of queue {queue}."
        )
        log(request, f"{queue}:{state}", text, DELETION, change)
        messages.success(
            request,
            _("%(n)d %(state)s messages of %(queue)s were deleted.")
            % {"n": removed, "state": state.label, "queue": queue},
        )
        return HttpResponseRedirect(url("list", queue, state))
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        count = reader.read(queue, lambda backend: backend.counts()[state])
    except QueueUnavailable:
        count = None
    return render(
        request,
        model_admin,
        "purge.html",
        _("Purge %(state)s messages of %(queue)s")
        % {"state": state.label, "queue": queue},
        queue=queue,
        state=state,
        count=count,
        unavailable=reader.unavailable.get(queue, ""),
    )


def unreachable(queue: str, reason: str) -> str:
    return _(
        "Queue %(queue)s cannot be reached (%(error)s): the action may not have "
        "been applied. Look at the message again once the queue answers."
    ) % {"queue": queue, "error": reason}


def not_supported(queue: str) -> str:
    return _(
        "The messages of queue %(queue)s cannot be changed here: this is not "
        "supported by its backend."
    ) % {"queue": queue}
