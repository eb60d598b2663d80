"""``run_queue --log-format json`` writes one JSON object per line, with the
message id, command, queue, attempt and outcome of each run as fields."""

import json
import logging
import sys

import pytest

from djqueue.consumer import Consumer
from djqueue.management.json_logs import JsonFormatter
from djqueue.management.running import configure_logging
from testproject.demo import commands


@pytest.fixture
def configure(capsys):
    """configure_logging on a bare djqueue logger (so that it sets it up on
    the captured stderr); the logger is restored afterwards."""
    logger = logging.getLogger("djqueue")
    saved = logger.handlers[:], logger.propagate, logger.level

    def bare_then_configure(*args, **kwargs):
        logger.handlers = []
        configure_logging(*args, **kwargs)

    yield bare_then_configure
    logger.handlers, logger.propagate, logger.level = saved


def lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_each_run_is_a_line_with_its_fields(configure, capsys):
    configure(1, log_format="json")
    done = commands.add(1, 2)
    failed = commands.fail("on purpose")

    Consumer(["default"], 1, burst=True, periodic=False).run()

    runs = {line["message_id"]: line for line in lines(capsys) if "message_id" in line}
    assert runs[done.id] == {
        "time": runs[done.id]["time"],
        "level": "INFO",
        "logger": "djqueue.consumer",
        "message": runs[done.id]["message"],
        "message_id": done.id,
        "command": commands.add.name,
        "queue": "default",
        "attempt": 1,
        "outcome": "done",
    }
    assert runs[done.id]["message"].startswith(f"Done {done.id}")
    assert runs[failed.id]["level"] == "ERROR"
    assert runs[failed.id]["outcome"] == "failed"
    assert runs[failed.id]["command"] == commands.fail.name


def test_a_supervisors_consumer_process_marks_its_lines(configure, capsys):
    configure(1, worker_id="host:1/2", log_format="json")

    logging.getLogger("djqueue.consumer").info("Started %s", "x")

    (line,) = lines(capsys)
    assert line["worker_id"] == "host:1/2"
    assert line["message"] == "Started x"


def test_an_exception_is_a_field_and_odd_values_are_text():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "djqueue.consumer", logging.ERROR, __file__, 1, "Oops %s", ("a",),
            sys.exc_info(),
        )  # fmt: skip
    record.attempt = object()

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "Oops a"
    assert "ValueError: boom" in entry["exception"]
    assert entry["attempt"].startswith("<object object")
    assert "command" not in entry


def test_the_text_format_stays_the_default(configure, capsys):
    configure(1)

    logging.getLogger("djqueue.consumer").info("Started")

    assert capsys.readouterr().err.rstrip().endswith("INFO djqueue.consumer Started")
