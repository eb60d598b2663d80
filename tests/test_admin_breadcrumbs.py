"""The breadcrumbs of djqueue's admin pages use Django 6's markup (an
``<ol class="breadcrumbs">`` whose last item alone is the current page),
which djqueue's stylesheet (``djqueue/admin.css``) styles on Django 5.2 as
Django 6 does."""

from __future__ import annotations

import re

import pytest

from djqueue import get_queue
from djqueue.states import State

from .admin_helpers import admin_url, populate, staff_user

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("backend", ["database"], indirect=True),
]

TRAIL = re.compile(r'<ol class="breadcrumbs">(.*?)</ol>', re.DOTALL)
ITEM = re.compile(r"<li( aria-current=\"page\")?>(.*?)</li>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def trail(client, url) -> list[tuple[str, bool]]:
    """The breadcrumbs of a page as (text, is the current page)."""
    response = client.get(url)
    assert response.status_code == 200, url
    [crumbs] = TRAIL.findall(response.text)
    return [
        (TAG.sub("", text).strip(), bool(current))
        for current, text in ITEM.findall(crumbs)
    ]


def test_every_page_ends_its_trail_with_the_current_page(
    backend, client, django_user_model
):
    ids = populate(get_queue())
    client.force_login(
        staff_user(django_user_model, "op", "view_message", "purge_queue")
    )
    home = [("Home", False), ("Queues", False)]
    overview = [("Overview", False)]
    failed = ids[State.FAILED]

    assert trail(client, admin_url("changelist")) == [*home, ("Overview", True)]
    assert trail(client, admin_url("list", "default", "queued")) == (
        [*home, *overview, ("default", False), ("Queued", True)]
    )
    assert trail(client, admin_url("message", "default", failed)) == (
        [*home, *overview, ("default", False), ("Failed", False), (failed, True)]
    )
    assert trail(client, admin_url("periodic")) == (
        [*home, *overview, ("Periodic commands", True)]
    )
    assert trail(client, admin_url("purge", "default", "failed")) == (
        [*home, *overview, ("default", False), ("Failed", False), ("Purge", True)]
    )
