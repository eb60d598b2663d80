"""The admin shows the progress a command reported: on the message page a
bar when the total is known, the note and the metadata as JSON (escaped);
in the list of running messages a compact line. On every backend."""

from __future__ import annotations

import json

import pytest

from djqueue import get_queue

from .admin_helpers import admin_url, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, django_user_model, backend):
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    return client


def running_with(progress: dict | None):
    queue = get_queue()
    queue.write(make_message())
    (message,) = queue.claim("w", 30)
    if progress is not None:
        assert queue.set_progress(message, json.dumps(progress))
    return message


def test_the_message_page_shows_a_bar_the_note_and_the_metadata(viewer):
    message = running_with(
        {
            "done": 1500,
            "total": 6000,
            "note": "reading <rows>",
            "meta": {"file": "a<b>.csv"},
            "at": "2026-12-01T10:00:00+00:00",
        }
    )

    page = viewer.get(admin_url("message", "default", message.id)).text

    assert '<progress max="6000" value="1500">' in page
    assert "1,500 of 6,000 (25 %)" in page
    assert "reading &lt;rows&gt;" in page
    assert "&quot;file&quot;: &quot;a&lt;b&gt;.csv&quot;" in page
    assert "Reported" in page


def test_without_a_total_the_page_shows_a_count_and_no_bar(viewer):
    message = running_with({"done": 7, "total": None, "note": "", "meta": {}})

    page = viewer.get(admin_url("message", "default", message.id)).text

    assert "7 done" in page
    assert "<progress" not in page
    assert "Metadata" not in page


def test_a_message_that_reported_nothing_has_no_progress_section(viewer):
    message = running_with(None)

    page = viewer.get(admin_url("message", "default", message.id)).text

    assert "djq-progress-report" not in page


def test_the_list_of_running_messages_shows_a_compact_progress(viewer):
    running_with({"done": 3, "total": 4, "note": "x" * 200, "meta": {}})

    page = viewer.get(admin_url("list", "default", "running")).text

    assert 'class="djq-progress-compact"' in page
    assert "3 of 4 (75 %)" in page
    assert "x" * 200 not in page
