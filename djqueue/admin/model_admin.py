"""The admin entry of djqueue: one ModelAdmin whose pages are all ours.

It is registered for :class:`~djqueue.models.MessageRecord` so the admin
index shows it and the admin log can name messages, but no page reads that
table: every page reads queues through the inspection API, so the same
pages serve RedisQueue-only projects. Django's add, change and delete views
are not exposed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.urls import path

from ..permissions import allowed
from . import actions, bulk, live, pausing, periodic_page, search, views

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse
    from django.urls import URLPattern

    from ..models import MessageRecord

    # ModelAdmin is generic in the stubs only.
    _ModelAdmin = admin.ModelAdmin[MessageRecord]
else:
    _ModelAdmin = admin.ModelAdmin


class QueueAdmin(_ModelAdmin):
    """Overview, lists, message pages, actions and periodic commands."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return allowed(request.user, "view")

    def has_view_permission(
        self, request: HttpRequest, obj: MessageRecord | None = None
    ) -> bool:
        return allowed(request.user, "view")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: MessageRecord | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: MessageRecord | None = None
    ) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        def page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            def bound(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                return view(request, self, *args, **kwargs)

            return self.admin_site.admin_view(bound)

        name = "djqueue_messagerecord_"
        # Queue names may contain "/": the longer patterns come first. A
        # table of routes, a pattern and its view per line, its name below
        # (the formatter would give each argument a line of its own).
        return [
            path("", page(views.overview), name=name + "changelist"),
            path("periodic/", page(periodic_page.periodic), name=name + "periodic"),
            path("live.json", page(live.overview_data), name=name + "live"),
            path("search/", page(search.search), name=name + "search"),
            path("id/<str:message_id>/", page(views.message_anywhere),
                 name=name + "change"),
            path("q/<path:queue>/m/<str:message_id>/<str:action>/",
                 page(actions.message_action), name=name + "action"),
            path("q/<path:queue>/m/<str:message_id>/", page(views.message_detail),
                 name=name + "message"),
            path("q/<path:queue>/pause/", page(pausing.pause_queue),
                 name=name + "pause"),
            path("q/<path:queue>/resume/", page(pausing.resume_queue),
                 name=name + "resume"),
            path("q/<path:queue>/<str:state>/purge/", page(bulk.purge),
                 name=name + "purge"),
            path("q/<path:queue>/<str:state>/bulk/", page(bulk.bulk_action),
                 name=name + "bulk"),
            path("q/<path:queue>/<str:state>/", page(views.message_list),
                 name=name + "list"),
        ]  # fmt: skip
