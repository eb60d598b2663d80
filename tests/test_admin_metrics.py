"""The Prometheus metrics view and the periodic commands page."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from djqueue import get_queue, metrics, registry
from djqueue.commands.periodic import _periodic, periodic_command
from djqueue.metrics import label_value, render
from djqueue.states import State

from .admin_helpers import admin_url, populate, snapshot, staff_user
from .factories import make_message

pytestmark = pytest.mark.django_db

METRICS = "/djqueue/metrics"


@pytest.fixture
def queue(backend):
    return get_queue()


def test_the_url_is_reversible():
    assert reverse("djqueue:metrics") == METRICS


def test_metrics_count_messages_per_queue_and_state(client, settings, queue):
    settings.QUEUE_METRICS_TOKEN = "s3cret-token"
    populate(queue)
    before = snapshot(queue)
    response = client.get(METRICS, HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    for state in State:
        assert f'djqueue_messages{{queue="default",state="{state}"}} 1' in lines
    assert 'djqueue_up{queue="default"} 1' in lines
    assert "# TYPE djqueue_runs_total counter" in lines
    assert 'djqueue_consumers{queue="default"} 0' in lines
    assert snapshot(queue) == before


def test_metrics_count_runs_by_command(client, settings, queue, monkeypatch):
    settings.QUEUE_METRICS_TOKEN = "s3cret-token"
    queue.record_runs({("a.cmd", State.DONE): 3, ("a.cmd", State.FAILED): 1})
    moment = timezone.now().replace(microsecond=0)
    queue.write(make_message("a.cmd", eta=moment - timedelta(seconds=90)))
    queue.write(make_message("a.cmd", eta=moment - timedelta(seconds=30)))
    monkeypatch.setattr(metrics, "timezone", SimpleNamespace(now=lambda: moment))
    before = snapshot(queue)
    response = client.get(METRICS, HTTP_AUTHORIZATION="Bearer s3cret-token")
    lines = response.text.splitlines()
    assert (
        'djqueue_runs_total{queue="default",command="a.cmd",outcome="done"} 3' in lines
    )
    assert (
        'djqueue_runs_total{queue="default",command="a.cmd",outcome="failed"} 1'
        in lines
    )
    assert 'djqueue_oldest_queued_age_seconds{queue="default"} 90' in lines
    assert snapshot(queue) == before


def test_metrics_sum_the_seconds_of_the_runs_by_command(client, settings, queue):
    settings.QUEUE_METRICS_TOKEN = "s3cret-token"
    queue.record_runs(
        {
            ("a.cmd", State.DONE): 3,
            ("a.cmd", State.FAILED): 1,
            ("b.cmd", State.DONE): 1,
        },
        seconds={("a.cmd", State.DONE): 1.5, ("a.cmd", State.FAILED): 0.5},
    )
    response = client.get(METRICS, HTTP_AUTHORIZATION="Bearer s3cret-token")
    lines = response.text.splitlines()

    assert "# TYPE djqueue_run_duration_seconds summary" in lines
    assert (
        'djqueue_run_duration_seconds_sum{queue="default",command="a.cmd"} 2' in lines
    )
    assert (
        'djqueue_run_duration_seconds_count{queue="default",command="a.cmd"} 4' in lines
    )
    assert (
        'djqueue_run_duration_seconds_sum{queue="default",command="b.cmd"} 0' in lines
    )


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Basic s3cret-token", "Bearer "]
)
def test_metrics_refuse_a_missing_or_wrong_token(client, settings, header, queue):
    settings.QUEUE_METRICS_TOKEN = "s3cret-token"
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get(METRICS, **extra)
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == 'Bearer realm="djqueue"'
    assert "djqueue_messages" not in response.text


def test_without_a_token_setting_no_bearer_header_is_accepted(client, queue):
    response = client.get(METRICS, HTTP_AUTHORIZATION="Bearer None")
    assert response.status_code == 403


def test_staff_with_view_permission_read_the_metrics(client, django_user_model, queue):
    client.force_login(staff_user(django_user_model, "nobody"))
    assert client.get(METRICS).status_code == 403
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    response = client.get(METRICS)
    assert response.status_code == 200
    assert 'djqueue_messages{queue="default",state="queued"} 0' in response.text


def test_an_unreadable_queue_is_down_not_an_error(settings):
    settings.QUEUES = {
        "down": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": "redis://127.0.0.1:1/0",
        }
    }
    text = render(["down"], timezone.now())
    assert 'djqueue_up{queue="down"} 0' in text.splitlines()
    assert "djqueue_messages{" not in text


NO_ADMIN_SETTINGS = """
SECRET_KEY = "not-secret"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djqueue"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ROOT_URLCONF = "no_admin_urls"
USE_TZ = True
QUEUE_METRICS_TOKEN = "scrape-token"
"""
NO_ADMIN_URLS = """
from django.urls import include, path
urlpatterns = [path("djqueue/", include("djqueue.urls"))]
"""
NO_ADMIN_SCRAPE = """
import django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
client = Client()
print(client.get("/djqueue/metrics").status_code)
response = client.get(
    "/djqueue/metrics", headers={"authorization": "Bearer scrape-token"}
)
print(response.status_code, b"djqueue_up" in response.content)
"""


def test_metrics_serve_a_project_without_the_admin(tmp_path):
    """djqueue.urls needs neither django.contrib.admin nor the authentication
    middleware: the token lets a scraper in, and nobody else."""
    (tmp_path / "no_admin_settings.py").write_text(NO_ADMIN_SETTINGS)
    (tmp_path / "no_admin_urls.py").write_text(NO_ADMIN_URLS)
    root = Path(__file__).resolve().parent.parent
    scrape = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NO_ADMIN_SCRAPE)],
        env={
            "PYTHONPATH": f"{tmp_path}:{root}",
            "DJANGO_SETTINGS_MODULE": "no_admin_settings",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert scrape.returncode == 0, scrape.stderr
    assert scrape.stdout.split() == ["403", "200", "True"]


def test_label_values_are_escaped():
    assert label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


@pytest.fixture
def every_five_minutes():
    def sweep():
        return "swept"

    command = periodic_command(every=timedelta(minutes=5), name="tests.sweep")(sweep)
    yield command
    _periodic.pop(command.name)
    registry.unregister(command.name)


def test_periodic_page_lists_schedule_and_next_run(
    client, django_user_model, every_five_minutes, queue
):
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    response = client.get(admin_url("periodic"))
    assert response.status_code == 200
    [row] = [r for r in response.context["rows"] if r["queue"] == "default"]
    assert row["entry"].command.name == "tests.sweep"
    assert row["next"].minute % 5 == 0
    assert "every 0:05:00" in response.text
    assert row["last"] is None


def test_periodic_page_shows_the_last_tick(
    client, django_user_model, every_five_minutes, queue
):
    tick = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    assert queue.write_tick(make_message("tests.sweep"), "tests.sweep", tick)
    client.force_login(staff_user(django_user_model, "viewer", "view_message"))
    response = client.get(admin_url("periodic"))
    [row] = [r for r in response.context["rows"] if r["queue"] == "default"]
    assert row["last"] == tick
