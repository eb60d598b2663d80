"""The reference pages list what the code has: every system check id, and
every abstract method of the backend contract (a backend written from
docs/backends.rst must instantiate)."""

from __future__ import annotations

import re
from pathlib import Path

import djqueue
from djqueue.backends.base import BaseQueue

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
