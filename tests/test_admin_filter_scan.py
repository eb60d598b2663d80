"""A filtered list on Redis reaches rare, old matches: three ``send_receipt``
messages done, then 20,000 newer ``bulk_job`` ones; following the next-page
links from page 1 shows the three (issue 12, item 3)."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from djqueue import get_queue
from djqueue.backends.base import INSPECT_SCAN_LIMIT
from djqueue.envelope.message import new_message_id

from .admin_helpers import admin_url, staff_user
from .conftest import _backend_fixture
from .factories import make_message

pytestmark = pytest.mark.django_db

NEWER = 20_000
NEXT_LINK = re.compile(r'<a href="(\?[^"]*)" rel="next">([^<]*)</a>')


# Real Redis only: the scan is the same Lua on fakeredis, where these 20,000
# messages took 50 s of the suite.
@pytest.fixture(params=["redis"])
def redis_backend(request, settings):
    yield from _backend_fixture(request, settings)


def finish(queue, when) -> list[str]:
    """Claim every queued message and acknowledge it at ``when``."""
    done = []
    while claimed := queue.claim("w", 600, limit=2000):
        for message in claimed:
            assert queue.ack(message, None, result_ttl=3600, now=when)
            done.append(message.id)
    return done


def test_filtered_done_list_leads_to_old_rare_matches(
    redis_backend, client, django_user_model
):
    queue = get_queue()
    now = timezone.now()
    receipts = []
    for step in range(3):
        message = make_message("shop.send_receipt")
        queue.write(message)
        receipts += finish(queue, now - timedelta(hours=1, seconds=step))
    bulk = make_message("shop.bulk_job")
    queue.write_many(
        [dataclasses.replace(bulk, id=new_message_id()) for _ in range(NEWER)]
    )
    assert len(finish(queue, now)) == NEWER
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    listing = admin_url("list", "default", "done")

    response = client.get(listing, {"command": "shop.send_receipt"})
    pages = [response]
    while not response.context["rows"]:
        assert response.status_code == 200
        [(link, label)] = NEXT_LINK.findall(response.text)
        assert label == "Search further"
        assert "No match among the messages examined for this page." in response.text
        assert response.context["listing"].examined <= INSPECT_SCAN_LIMIT
        assert len(pages) <= NEWER // INSPECT_SCAN_LIMIT, "a page past the newer"
        response = client.get(listing + html.unescape(link))
        pages.append(response)

    assert [m.id for m in response.context["rows"]] == receipts
    assert NEXT_LINK.findall(response.text) == []
    assert f"Page {len(pages)}" in response.text
