"""Imports inside ``djqueue/`` point one way: no cycle, and no layer reaches up.

The graph is read from the source with :mod:`ast`, not by importing it: every
``import`` and ``from … import`` statement of every module counts, at module
level or inside a function or method, with relative imports resolved. An
import under ``if TYPE_CHECKING:`` is left out: it never runs, and a type
annotation may name what sits above. Imports made from strings at run time
(``import_string``, ``import_module``, settings) are not statements and are
not seen.

How packages count: a package's ``__init__`` is a module like any other, and
its re-exports are its imports. Importing ``djqueue.a.b`` also runs
``djqueue/a/__init__.py``, so it counts as importing the package ``djqueue.a``
too, except from a module inside that package (which only runs once its
package is being imported). ``djqueue/__init__.py`` re-exports the public API:
it is the top, and a module inside djqueue that imports ``djqueue`` itself,
rather than a submodule, closes a cycle through it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "djqueue"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

#: The layers of docs/contributing.rst ("The layout"), in flow order; a name
#: covers a module, or a package and everything inside it.
ENVELOPE = ("djqueue.envelope",)
BACKENDS = ("djqueue.backends",)
#: What both sides know of commands: the consumer finds them in the
#: registry, and runs the periodic ticker, which builds messages as a call
#: would; the admin lists both.
SHARED_COMMANDS = ("djqueue.commands.registry", "djqueue.commands.periodic")
CALLER = (
    "djqueue.commands.options",
    "djqueue.commands.building",
    "djqueue.commands.command",
    "djqueue.commands.enqueue",
    "djqueue.commands.result",
)
CONSUMER = ("djqueue.consumer",)
ON_TOP = ("djqueue.contrib", "djqueue.apps", "djqueue.checks", "djqueue.testing")
MONITORING = ("djqueue.admin", "djqueue.metrics", "djqueue.management", "djqueue.urls")

#: Who must not import whom, on direct imports: (layer, what it must not
#: import).
LAYERS = {
    "envelope": (
        ENVELOPE,
        (*BACKENDS, *SHARED_COMMANDS, *CALLER, *CONSUMER, *ON_TOP, *MONITORING),
    ),
    "backends": (
        BACKENDS,
        (*SHARED_COMMANDS, *CALLER, *CONSUMER, *ON_TOP, *MONITORING),
    ),
    "caller": ((*SHARED_COMMANDS, *CALLER), (*CONSUMER, *ON_TOP, *MONITORING)),
    "consumer": (CONSUMER, (*CALLER, *ON_TOP, *MONITORING)),
    "admin": (
        ("djqueue.admin",),
        (*CALLER, *CONSUMER, *ON_TOP, "djqueue.management", "djqueue.urls"),
    ),
}


def module_names() -> dict[str, Path]:
    """Every module of the package by its dotted name (packages by theirs)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = module_names()


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, but those under TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and is_type_checking(node.test):
            for branch in node.orelse:
                yield from import_nodes(ast.Module(body=[branch], type_ignores=[]))
        else:
            yield from import_nodes(node)


def imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The djqueue modules one statement names, relative imports resolved."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = module.split(".")
        base = base[: len(base) - node.level + is_package]
        origin = ".".join(base + ([node.module] if node.module else []))
    else:
        origin = node.module or ""
    for alias in node.names:
        submodule = f"{origin}.{alias.name}"
        yield submodule if submodule in MODULES else origin


def with_packages(module: str, target: str) -> Iterator[str]:
    """``target`` and the packages above it that importing it runs first."""
    parts = target.split(".")
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        enclosing = module == name or module.startswith(f"{name}.")
        if name in MODULES and (end == len(parts) or not enclosing):
            yield name


def build_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in import_nodes(tree):
            for target in imported(module, node):
                if target == PACKAGE or target.startswith(f"{PACKAGE}."):
                    graph[module].update(
                        name for name in with_packages(module, target) if name != module
                    )
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle as ``[a, b, …, a]``, or None (a depth-first search)."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(graph[module]):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (cycle := visit(target)):
                return cycle
        on_path.discard(path.pop())
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done and (cycle := visit(module)):
            return cycle
    return None


def reaching(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module that ``start`` imports, directly or not."""
    seen: set[str] = set()
    waiting = [start]
    while waiting:
        for target in graph[waiting.pop()] - seen:
            seen.add(target)
            waiting.append(target)
    return seen


def tangle(graph: dict[str, set[str]], module: str) -> list[str]:
    """The modules in a cycle with ``module``: each imports every other,
    directly or not."""
    return sorted(
        other
        for other in reaching(graph, module) | {module}
        if module in reaching(graph, other)
    )


def within(module: str, names: str | tuple[str, ...]) -> bool:
    names = (names,) if isinstance(names, str) else names
    return any(module == name or module.startswith(f"{name}.") for name in names)


GRAPH = build_graph()


def test_the_graph_is_read():
    """The reader sees relative, absolute and function-level imports, and
    leaves out those under TYPE_CHECKING."""
    assert "djqueue.envelope.message" in GRAPH["djqueue.consumer.execution"]
    assert "djqueue.backends.base" in GRAPH["djqueue.consumer.consumer"]
    assert "djqueue.consumer" in GRAPH["djqueue.management.commands.run_queue"]
    assert "djqueue.commands.registry" in GRAPH["djqueue.apps"]  # inside ready()
    assert "djqueue.commands.command" not in GRAPH["djqueue.commands.registry"]


def test_no_import_cycle():
    """No chain of imports inside djqueue leads back to where it started."""
    cycle = find_cycle(GRAPH)
    assert cycle is None, (
        f"Import cycle: {' -> '.join(cycle or [])}; the modules tied in it: "
        f"{', '.join(tangle(GRAPH, (cycle or [''])[0]))}"
    )


def test_nothing_inside_imports_the_package_itself():
    """Only submodules are imported: ``djqueue/__init__.py`` is the top."""
    importers = sorted(m for m, targets in GRAPH.items() if PACKAGE in targets)
    assert not importers, f"These import {PACKAGE} itself: {', '.join(importers)}"


@pytest.mark.parametrize("layer", LAYERS)
def test_layers(layer):
    """A layer imports nothing above it (the table is docs/contributing.rst's)."""
    importers, forbidden = LAYERS[layer]
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if within(module, importers)
        for target in targets
        if within(target, forbidden) and not within(target, importers)
    )
    assert not wrong, "Imports against the layering:\n" + "\n".join(wrong)


#: The modules that lie flat in djqueue/: the base any module may import,
#: and what sits on top (docs/contributing.rst, "The layout").
FLAT = {
    "djqueue",
    "djqueue.apps",
    "djqueue.checks",
    "djqueue.conf",
    "djqueue.context",
    "djqueue.db",
    "djqueue.exceptions",
    "djqueue.hooks",
    "djqueue.metrics",
    "djqueue.models",
    "djqueue.permissions",
    "djqueue.signals",
    "djqueue.states",
    "djqueue.urls",
}


def test_only_the_base_and_the_top_lie_flat():
    """Every other module lives in the package of its side of the flow."""
    flat = {
        module
        for module in MODULES
        if module.count(".") == 1 and MODULES[module].name != "__init__.py"
    }
    assert flat <= FLAT, f"Put these in a package: {', '.join(sorted(flat - FLAT))}"
