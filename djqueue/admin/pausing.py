"""The admin actions on a whole queue: pause (which asks first, with an
optional reason, on a confirmation page) and resume.

As the actions on messages (:mod:`djqueue.admin.actions`), each is a POST
(CSRF-protected by the admin's middleware), needs its permission (``pause``,
a 403 otherwise), goes through the queue's bounded inspection twin (a queue
that does not answer is reported, not waited for) and is written to
Django's admin log when it changed something, with ``<queue>:pause`` as the
object id. The user's name is the pause's ``by``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from ..backends.pausing import Pause
    from .model_admin import QueueAdmin

from django.contrib import messages
from django.contrib.admin.models import CHANGE
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from ..backends.pausing import MAX_REASON_LENGTH
from ..permissions import require
from .actions import log, unreachable
from .reading import QueueUnavailable, Reader
from .views import queue_or_404, render, url


def back_to(request: HttpRequest) -> str:
    """Where to go after the action: the page it came from (``next``, if it
    is one of this site's), else the overview."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return url("changelist")


def not_pausable(queue: str) -> str:
    return _(
        "Queue %(queue)s cannot be paused: this is not supported by its backend."
    ) % {"queue": queue}


def pause_queue(
    request: HttpRequest, model_admin: QueueAdmin, queue: str
) -> HttpResponse:
    """Confirm (GET) and pause (POST with ``confirm=yes``) a queue."""
    require(request.user, "pause")
    queue, reader = queue_or_404(queue), Reader()
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if not reader.supports(queue, "supports_pause"):
        messages.error(request, not_pausable(queue))
        return HttpResponseRedirect(back_to(request))
    reason = request.POST.get("reason", "").strip()
    too_long = len(reason) > MAX_REASON_LENGTH
    if request.method != "POST" or request.POST.get("confirm") != "yes" or too_long:
        return render(
            request,
            model_admin,
            "pause.html",
            _("Pause queue %(queue)s") % {"queue": queue},
            queue=queue,
            reason=reason,
            too_long=too_long,
            max_reason=MAX_REASON_LENGTH,
            next=back_to(request),
        )
    by, now = request.user.get_username(), timezone.now()
    try:
        pause = reader.read(queue, lambda backend: backend.pause(by, reason, now=now))
    except QueueUnavailable as exc:
        messages.error(request, unreachable(queue, exc.reason))
        return HttpResponseRedirect(back_to(request))
    if pause.since != now:
        messages.warning(request, already_paused(queue, pause))
        return HttpResponseRedirect(back_to(request))
    change = f"Paused queue {queue}" + (f": {reason}" if reason else "") + "."
    log(request, f"{queue}:pause", f"queue {queue}", CHANGE, change)
    messages.success(
        request,
        _("Queue %(queue)s is paused: consumers stop claiming from it within "
          "a second; the messages that run finish.") % {"queue": queue},
    )  # fmt: skip
    return HttpResponseRedirect(back_to(request))


def resume_queue(
    request: HttpRequest, model_admin: QueueAdmin, queue: str
) -> HttpResponse:
    """Resume a paused queue (POST)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    require(request.user, "pause")
    queue, reader = queue_or_404(queue), Reader()
    if not reader.supports(queue, "supports_pause"):
        messages.error(request, not_pausable(queue))
        return HttpResponseRedirect(back_to(request))
    try:
        ended = reader.read(queue, lambda backend: backend.resume())
    except QueueUnavailable as exc:
        messages.error(request, unreachable(queue, exc.reason))
        return HttpResponseRedirect(back_to(request))
    if ended is None:
        messages.warning(
            request, _("Queue %(queue)s was not paused.") % {"queue": queue}
        )
        return HttpResponseRedirect(back_to(request))
    change = f"Resumed queue {queue}, paused by {ended.by}."
    log(request, f"{queue}:pause", f"queue {queue}", CHANGE, change)
    messages.success(
        request,
        _("Queue %(queue)s is resumed: consumers claim from it again.")
        % {"queue": queue},
    )
    return HttpResponseRedirect(back_to(request))


def already_paused(queue: str, pause: Pause) -> str:
    return _("Queue %(queue)s was already paused by %(by)s; it was left as it was.") % {
        "queue": queue,
        "by": pause.by,
    }
