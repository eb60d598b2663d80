"""The reference pages list what the code has: every system check id, and
every abstract method of the backend contract and of its optional parts (a
backend written from docs/backends.rst must instantiate)."""

from __future__ import annotations

import re
from pathlib import Path

import djqueue
from djqueue.backends.base import BaseQueue
from djqueue.backends.expiry import Expiry
from djqueue.backends.inspection import Inspection
from djqueue.backends.pausing import Pausing
from djqueue.backends.presence import ConsumerPresence
from djqueue.backends.progress import ProgressReports
from djqueue.backends.statistics import RunStatistics
from djqueue.backends.ticks import PeriodicTicks
from djqueue.backends.unique import UniqueKeys

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE = Path(djqueue.__file__).resolve().parent


def test_every_system_check_id_is_documented():
    in_code = {
        found
        for path in PACKAGE.rglob("*.py")
        for found in re.findall(r'id="(djqueue\.[EW]\d{3})"', path.read_text())
    }
    settings = (DOCS / "settings.rst").read_text()
    checks = settings[settings.index(".. _system-checks:") :]
    listed = set(re.findall(r"^``(djqueue\.[EW]\d{3})``$", checks, re.MULTILINE))
    # The checks of the django.tasks backend are described on its own page.
    listed |= set(
        re.findall(r"``(djqueue\.E03\d)``", (DOCS / "django_tasks.rst").read_text())
    )
    assert in_code
    assert in_code - listed == set()


def test_a_backend_written_from_the_contract_page_instantiates():
    page = (DOCS / "backends.rst").read_text()
    contract = page[
        page.index(".. class:: BaseQueue(") : page.index(".. data:: INSPECT_SCAN_LIMIT")
    ]
    documented = set(re.findall(r"\.\. method:: (\w+)\(", contract))
    body = {name: lambda self, *args, **kwargs: None for name in documented}
    Backend = type("FromTheDocs", (BaseQueue,), body)

    assert BaseQueue.__abstractmethods__ - documented == set()
    assert Backend("docs").name == "docs"


def test_the_guide_lists_every_required_method():
    page = (DOCS / "backends.rst").read_text()
    guide = page[page.index("The required methods\n") : page.index("Optional parts\n")]
    listed = set(re.findall(r"``(\w+)\(", guide))

    assert BaseQueue.__abstractmethods__ - listed == set()


OPTIONAL_PARTS = (
    Inspection,
    ConsumerPresence,
    RunStatistics,
    PeriodicTicks,
    UniqueKeys,
    Pausing,
    ProgressReports,
    Expiry,
)


def test_each_optional_part_documents_its_methods():
    page = (DOCS / "backends.rst").read_text()
    for part in OPTIONAL_PARTS:
        start = page.index(f".. class:: {part.__name__}\n")
        section = page[start : page.index("\n.. module::", start)]
        documented = set(re.findall(r"\.\. method:: (\w+)\(", section))
        own = part.__abstractmethods__ - BaseQueue.__abstractmethods__

        assert own, part
        assert own - documented == set(), part
        assert all(callable(getattr(part, name)) for name in documented)


def test_the_progress_example_is_a_command_that_a_test_runs():
    """The page includes the test project's command, which
    tests/test_progress.py runs on each backend; the shown values are what
    that test asserts."""
    from testproject.demo import commands

    page = (DOCS / "commands.rst").read_text()
    source = (DOCS.parent / "tests" / "test_progress.py").read_text()

    assert "../testproject/demo/commands.py\n    :pyobject: import_reports" in page
    assert callable(commands.import_reports)
    assert 'commands.import_reports(["a", "b", "c"])' in source
    assert "(3, 3, 100)" in page


def test_the_run_queue_page_lists_every_option_of_the_command():
    from django.core.management.base import BaseCommand

    from djqueue.management.commands.run_queue import Command

    def long_options(command: BaseCommand) -> set[str]:
        parser = command.create_parser("manage.py", "run_queue")
        return {
            name
            for action in parser._actions
            for name in action.option_strings
            if name.startswith("--")
        }

    own = long_options(Command()) - long_options(BaseCommand())
    page = (DOCS / "run_queue.rst").read_text()
    documented = set(re.findall(r"^\.\. option:: .*?(--[\w-]+)", page, re.MULTILINE))
    assert "--async-runs" in own
    assert own - documented == set()
