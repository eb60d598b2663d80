"""System checks report wrong settings with a hint."""

import json
import os
import subprocess
import sys

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from djqueue.checks import check_settings
from djqueue.conf import queue_configs

from .processes import MANAGE, ConsumerProcess


def ids(messages):
    return [message.id for message in messages]


def test_default_configuration_passes():
    assert check_settings() == []
    assert list(queue_configs()) == ["default"]


@override_settings(QUEUE_BACKEND="djqueue.backends.nope.Nope")
def test_backend_that_cannot_be_imported():
    errors = check_settings()
    assert ids(errors) == ["djqueue.E002"]
    assert "djqueue.backends.nope.Nope" in errors[0].msg


@override_settings(QUEUE_BACKEND="djqueue.conf.QueueConfig")
def test_backend_that_is_not_a_queue():
    assert ids(check_settings()) == ["djqueue.E002"]


@override_settings(
    QUEUES={
        "default": {
            "BACKEND": "djqueue.backends.database.DatabaseQueue",
            "LOCATION": "x",
        }
    }
)
def test_unknown_queue_key():
    errors = check_settings()
    assert ids(errors) == ["djqueue.E001"]
    assert "LOCATION" in errors[0].msg


@override_settings(QUEUES=["default"])
def test_queues_must_be_a_dict():
    assert ids(check_settings()) == ["djqueue.E001"]


@override_settings(QUEUES={"default": {"CONNECTION": "replica"}})
def test_database_alias_must_exist():
    errors = check_settings()
    assert ids(errors) == ["djqueue.E010"]
    assert errors[0].hint


@pytest.mark.parametrize("alias", ["nowhere", "queue", 5])
def test_listen_connection_must_be_a_postgresql_alias(settings, alias):
    """``queue`` is in DATABASES, but PostgreSQL only in the PostgreSQL run."""
    from django.db import connections

    settings.QUEUES = {"default": {"OPTIONS": {"LISTEN_CONNECTION": alias}}}
    errors = check_settings()
    if alias == "queue" and connections["queue"].vendor == "postgresql":
        assert ids(errors) == []
        return
    assert ids(errors) == ["djqueue.E014"]
    assert repr(alias) in errors[0].msg
    assert "directly" in errors[0].hint


@override_settings(
    QUEUES={"default": {}, "other": {"SERIALIZER": "no.such.Serializer"}}
)
def test_serializer_that_cannot_be_imported():
    assert ids(check_settings()) == ["djqueue.E003"]


@override_settings(QUEUES={"emails": {}})
def test_commands_on_a_queue_that_is_not_configured():
    errors = check_settings()
    assert set(ids(errors)) == {"djqueue.E004"}
    assert any("testproject.demo.commands.add" in e.msg for e in errors)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("QUEUE_RESULT_TTL", -1),
        ("QUEUE_LEASE_SECONDS", 0),
        ("QUEUE_FAILED_TTL", "long"),
        ("QUEUE_REDELIVERIES", 1.5),
        ("QUEUE_ACK_INTERVAL", -0.1),
        ("QUEUE_ACK_INTERVAL", 3.5),  # past a tenth of the 30 s lease
    ],
)
def test_numbers_must_make_sense(setting, value):
    with override_settings(**{setting: value}):
        assert "djqueue.E005" in ids(check_settings())


def test_checks_run_with_manage_py_check():
    with override_settings(QUEUE_BACKEND="nope"):
        assert "djqueue.E002" in ids(checks.run_checks(tags=["djqueue"]))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"FAILED_TLL": 10}, "djqueue.E006"),
        ({"FAILED_TTL": -5}, "djqueue.E007"),
        ({"FAILED_TTL": "week"}, "djqueue.E007"),
        ({"PREFIX": "{mine}"}, "djqueue.E022"),
        ({"PREFIX": ""}, "djqueue.E022"),
    ],
)
def test_queue_options_are_checked(options, expected):
    backend = "djqueue.backends.redis.RedisQueue"
    with override_settings(
        QUEUES={"default": {"BACKEND": backend, "OPTIONS": options}}
    ):
        assert ids(check_settings()) == [expected]


def test_database_queues_refuse_redis_options():
    with override_settings(QUEUES={"default": {"OPTIONS": {"PREFIX": "x"}}}):
        assert ids(check_settings()) == ["djqueue.E006"]


MEMORY = "djqueue.backends.memory.MemoryQueue"


@pytest.mark.parametrize(("debug", "expected"), [(True, []), (False, ["djqueue.W050"])])
def test_a_memory_queue_is_reported_when_debug_is_off(settings, debug, expected):
    """Outside development, a MemoryQueue is a warning: a run_queue of its
    own never sees what the web processes enqueue."""
    settings.DEBUG = debug
    settings.QUEUES = {"default": {"BACKEND": MEMORY}}

    messages = check_settings()

    assert ids(messages) == expected
    if messages:
        assert messages[0].level == checks.WARNING
        assert "run_queue" in messages[0].msg
        assert "SILENCED_SYSTEM_CHECKS" in messages[0].hint


def test_a_memory_queue_connection_must_be_a_text(settings):
    settings.DEBUG = True
    settings.QUEUES = {"default": {"BACKEND": MEMORY, "CONNECTION": 6379}}

    errors = check_settings()

    assert ids(errors) == ["djqueue.E050"]
    assert "string" in errors[0].hint


def test_metrics_token_must_be_a_string():
    with override_settings(QUEUE_METRICS_TOKEN=12345):
        assert ids(check_settings()) == ["djqueue.E008"]
    with override_settings(QUEUE_METRICS_TOKEN="s3cret"):
        assert check_settings() == []


TASKS_BACKEND = "djqueue.contrib.tasks.DjqueueBackend"

#: Each bad setting, as the test project's environment gives it to a real
#: process, and as override_settings gives it to this one.
BAD_SETTINGS = {
    "djqueue.E021": (
        {"DJQUEUE_BACKEND": "redis", "DJQUEUE_REDIS_URL": "redis//oops"},
        {
            "QUEUES": {
                "default": {
                    "BACKEND": "djqueue.backends.redis.RedisQueue",
                    "CONNECTION": "redis//oops",
                }
            }
        },
    ),
    "djqueue.E030": (
        {"BACKEND": TASKS_BACKEND, "QUEUES": ["defualt"]},
        None,
    ),
    "djqueue.E031": (
        {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"], "OPTIONS": {"retires": 2}},
        None,
    ),
}


def _bad_setting(error):
    """The environment of a process and the settings of this one."""
    environ, overrides = BAD_SETTINGS[error]
    if overrides is None:
        pytest.importorskip("tests.tasks_framework", reason="no tasks framework")
        return {"DJQUEUE_TASKS": json.dumps({"default": environ})}, {
            "TASKS": {"default": environ}
        }
    return environ, overrides


@pytest.mark.parametrize("error", sorted(BAD_SETTINGS))
def test_call_command_check_reports_each_bad_setting(error):
    _, overrides = _bad_setting(error)
    with override_settings(**overrides), pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert f"({error})" in str(raised.value)


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error", sorted(BAD_SETTINGS))
def test_check_and_run_queue_processes_refuse_each_bad_setting(error, tmp_path):
    """In fresh processes, where nothing imported the tasks framework first:
    ``check`` reports the error and ``run_queue`` exits 78 naming it."""
    environ, _ = _bad_setting(error)
    # The test database, as for run_queue: never a file in the working
    # directory named after DJQUEUE_DB_NAME.
    database = {"DJQUEUE_DB_NAME": str(connection.settings_dict["NAME"])}
    check = subprocess.run(
        [sys.executable, str(MANAGE), "check"],
        env={**os.environ, **database, **environ},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"({error})" in check.stderr

    proc = ConsumerProcess(tmp_path / "consumer.log", "--burst", env=environ)
    try:
        assert proc.wait(60) == 78
    finally:
        proc.stop()
    assert f"({error})" in proc.log()


@pytest.mark.parametrize(
    ("setting", "package", "check_id"),
    [
        ("QUEUE_OPENTELEMETRY", "opentelemetry", "djqueue.E040"),
        ("QUEUE_SENTRY", "sentry_sdk", "djqueue.E041"),
    ],
)
def test_an_integration_turned_on_without_its_package_is_an_error(
    settings, monkeypatch, setting, package, check_id
):
    from djqueue import checks as djqueue_checks

    real_find_spec = djqueue_checks.find_spec
    monkeypatch.setattr(
        djqueue_checks,
        "find_spec",
        lambda name: None if name == package else real_find_spec(name),
    )
    assert check_id not in [error.id for error in djqueue_checks.check_settings()]

    setattr(settings, setting, True)

    assert check_id in [error.id for error in djqueue_checks.check_settings()]
