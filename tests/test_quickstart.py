"""docs/quickstart.rst runs as written.

The page's files (``reports/models.py``, ``reports/commands.py``) are the
test project's ``testproject/reports`` app, word for word; its other Python
blocks run in order, with a burst consumer where the page starts one, and
its ``>>>`` session is checked with doctest.
"""

from __future__ import annotations

import doctest
import io
import re
import sys
import unittest
from pathlib import Path

import pytest
from django.core.management import call_command

from testproject import reports
from testproject.reports import commands, models

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "quickstart.rst"

pytestmark = pytest.mark.django_db(transaction=True)

BLOCK = re.compile(
    r"^\.\. code-block:: (?P<language>\w+)\n"
    r"(?:    :caption: (?P<caption>\S+)\n)?"
    r"\n(?P<body>(?:(?:    .*)?\n)+)",
    re.MULTILINE,
)


def blocks(language: str, text: str | None = None) -> list[tuple[str | None, str]]:
    """The code blocks in ``language`` of ``text`` (default: the whole page),
    as (caption, dedented code)."""
    found = []
    for match in BLOCK.finditer(PAGE.read_text() if text is None else text):
        if match["language"] == language:
            lines = match["body"].rstrip("\n").split("\n")
            code = "\n".join(line[4:] for line in lines) + "\n"
            found.append((match["caption"], code))
    return found


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"\n{title}\n{'=' * len(title)}\n")
    following = re.search(r"\n[^\n]+\n=+\n", text[start + len(title) + 2 :])
    end = start + len(title) + 2 + following.start() if following else len(text)
    return text[start:end]


def test_the_pages_files_are_the_test_projects_app():
    files = {caption: code for caption, code in blocks("python") if caption}
    app = Path(reports.__file__).parent
    assert files == {
        "reports/models.py": (app / "models.py").read_text(),
        "reports/commands.py": (app / "commands.py").read_text(),
    }


def test_enqueue_run_and_fetch_the_result_as_the_page_shows(monkeypatch):
    monkeypatch.setitem(sys.modules, "reports", reports)
    monkeypatch.setitem(sys.modules, "reports.models", models)
    monkeypatch.setitem(sys.modules, "reports.commands", commands)
    namespace: dict = {}

    def run(title: str) -> None:
        for caption, code in blocks("python", section(title)):
            if caption is None and not code.startswith(">>>"):
                exec(compile(code, f"{PAGE}: {title}", "exec"), namespace)

    run("Enqueueing a message")
    assert not namespace["result"].ready()
    # "In another terminal, start a consumer": here, one burst.
    call_command("run_queue", burst=True, verbosity=0)

    session = section("Getting the result")
    test = doctest.DocTestParser().get_doctest(
        session, namespace, "quickstart: Getting the result", str(PAGE), 0
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=lambda text: pytest.fail(text))
    assert runner.summarize(verbose=False).attempted >= 5
    run("Getting the result")
    assert namespace["later"].id == namespace["result"].id


def test_the_pages_test_cases_pass(monkeypatch):
    monkeypatch.setitem(sys.modules, "reports", reports)
    monkeypatch.setitem(sys.modules, "reports.models", models)
    monkeypatch.setitem(sys.modules, "reports.commands", commands)
    namespace: dict = {"__name__": "quickstart_testing"}
    for _, code in blocks("python", section("Testing")):
        exec(compile(code, f"{PAGE}: Testing", "exec"), namespace)
    cases = [
        value
        for value in namespace.values()
        if isinstance(value, type)
        and issubclass(value, unittest.TestCase)
        and value.__module__ == "quickstart_testing"
    ]
    suite = unittest.TestSuite(
        unittest.defaultTestLoader.loadTestsFromTestCase(case) for case in cases
    )
    outcome = unittest.TextTestRunner(stream=io.StringIO()).run(suite)

    assert [case.__name__ for case in cases] == [
        "CountWordsTests",
        "CountWordsQueueTests",
    ]
    assert (outcome.testsRun, outcome.failures, outcome.errors) == (2, [], [])
