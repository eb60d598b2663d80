"""The report's tables as Markdown, reStructuredText and plain text."""

from __future__ import annotations


def markdown(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def rst(title: str, head: list[str], body: list[list[str]]) -> str:
    """A ``list-table`` for the docs (``docs/performance.rst``)."""
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for cells in [head, *body]:
        lines.append(f"   * - {_rst_cell(cells[0])}")
        lines += [f"     - {_rst_cell(c)}" for c in cells[1:]]
    return "\n".join(lines) + "\n"


def _rst_cell(text: str) -> str:
    return text.replace("*", "\\*") if text else "\\"


def text_table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [head, *body]
    )
