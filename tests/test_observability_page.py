"""docs/observability.rst runs as written: its Python blocks turn the
integrations on, install OpenTelemetry's and configure the JSON log
format."""

import logging
import logging.config

import pytest

from djqueue.commands import enqueue
from djqueue.contrib import opentelemetry as djqueue_otel

from .test_quickstart import ROOT, blocks

PAGE = ROOT / "docs" / "observability.rst"


def page_block(containing):
    """The page's one Python block that contains ``containing``."""
    (code,) = [c for _, c in blocks("python", PAGE.read_text()) if containing in c]
    return code


@pytest.fixture
def djqueue_logger():
    logger = logging.getLogger("djqueue")
    saved = logger.handlers[:], logger.propagate, logger.level
    yield logger
    logger.handlers, logger.propagate, logger.level = saved


@pytest.mark.parametrize("name", ["QUEUE_OPENTELEMETRY", "QUEUE_SENTRY"])
def test_the_setting_blocks_turn_the_integrations_on(name):
    namespace: dict = {}
    exec(page_block(f"{name} ="), namespace)
    assert namespace[name] is True


def test_the_install_block_traces_enqueues_with_its_provider():
    namespace: dict = {}
    try:
        exec(page_block("install("), namespace)
        assert enqueue.send_tracers
    finally:
        djqueue_otel.uninstall()
        namespace["provider"].shutdown()


def test_the_logging_block_formats_djqueue_lines_as_json(djqueue_logger):
    namespace: dict = {}
    exec(page_block("LOGGING ="), namespace)
    logging.config.dictConfig(namespace["LOGGING"])

    (handler,) = djqueue_logger.handlers
    assert type(handler.formatter).__name__ == "JsonFormatter"


def test_with_the_integrations_off_nothing_of_them_is_imported():
    """A process that enqueues and runs with the settings off never imports
    OpenTelemetry or Sentry (immediate mode runs the consumer's side here)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys, django; django.setup()\n"
        "from django.test.utils import override_settings\n"
        "from testproject.demo import commands\n"
        "with override_settings(QUEUE_IMMEDIATE=True):\n"
        "    assert commands.add(1, 2).get(timeout=0) == 3\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('opentelemetry', 'sentry_sdk') or 'contrib.opentelemetry' in m "
        "or 'contrib.sentry' in m]\n"
        "assert not loaded, loaded\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": str(root),
    }
    finished = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
