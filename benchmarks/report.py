"""The report: a text table, ``results/<name>.md`` and a ratio chart PNG."""

from __future__ import annotations

from pathlib import Path

#: (scenario, column title, field, higher is better, format)
FIGURES = [
    ("enqueue", "enqueue/s", "value", True, "{:,.0f}"),
    ("bulk", "bulk enqueue/s", "value", True, "{:,.0f}"),
    ("drain", "drain/s (default workers)", "value", True, "{:,.0f}"),
    ("drain1", "drain/s (1 worker)", "value", True, "{:,.0f}"),
    ("latency", "latency p50 ms", "value", False, "{:.2f}"),
    ("latency", "latency p99 ms", "p99", False, "{:.2f}"),
    ("memory", "RSS MiB (small N)", "small", False, "{:.1f}"),
    ("memory", "RSS MiB (large N)", "value", False, "{:.1f}"),
    ("memory", "RSS growth MiB", "growth", False, "{:.1f}"),
]
SCALE = {"latency": 1000.0}


def number(row: dict, scenario: str, field: str) -> float | None:
    """The figure, following 'same as' links; None if not measured."""
    cell = row.get(scenario)
    if isinstance(cell, dict) and "same" in cell:
        cell = row.get(cell["same"])
    if not isinstance(cell, dict) or field not in cell or "error" in cell:
        return None
    return cell[field] * SCALE.get(scenario, 1.0)


def cell_text(row: dict, scenario: str, field: str, fmt: str) -> str:
    value = number(row, scenario, field)
    cell = row.get(scenario) or {}
    if value is not None:
        size = cell.get("n") or row.get(cell.get("same"), {}).get("n")
        note = f" (N={size:,})" if size and size != row.get("_n") else ""
        if cell.get("samples", 0) and cell["samples"] < row.get("_samples", 0):
            note = f" ({cell['samples']} samples)"
        return fmt.format(value) + note
    reason = row.get("error") or cell.get("error") or cell.get("na") or "-"
    return f"n/a ({reason})"


def figures(meta: dict) -> list[tuple]:
    return [f for f in FIGURES if f[0] in meta["scenarios"]]


def ratio(value, reference, higher_better: bool) -> float | None:
    """How many times better than ``reference`` (>1 is better)."""
    if value is None or reference is None or not value or not reference:
        return None
    return value / reference if higher_better else reference / value


def reference(results, row, scenario, field, higher, kind) -> float | None:
    """The raw limit or the best peer on the same store."""
    values = [
        number(other, scenario, field)
        for other in results.values()
        if other.get("kind") == kind and other.get("store") == row.get("store")
    ]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return max(values) if higher else min(values)


def ratio_rows(results: dict, meta: dict) -> list[tuple[str, str, str, str]]:
    """(system, figure, vs raw, vs best peer) for each djqueue figure."""
    rows = []
    for key, row in results.items():
        if row.get("kind") != "djqueue":
            continue
        for scenario, title, field, higher, _ in figures(meta):
            value = number(row, scenario, field)
            refs = [
                ratio(
                    value, reference(results, row, scenario, field, higher, k), higher
                )
                for k in ("raw", "peer")
            ]
            rows.append((key, title, *(_times(r) for r in refs)))
    return rows


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def table(results: dict, meta: dict) -> tuple[list[str], list[list[str]]]:
    head = ["system", *(f[1] for f in figures(meta))]
    body = [
        [f"{key}: {row.get('label', key)}"]
        + [cell_text(row, s, fld, fmt) for s, _, fld, _, fmt in figures(meta)]
        for key, row in results.items()
    ]
    return head, body


def markdown(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def text_table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        for cells in [head, *body]
    )


def header(meta: dict) -> str:
    if "memory" in meta["scenarios"]:
        small, large = meta["memory_n"].split(",")
        sizes = f"memory after {small} and {large} messages"
    else:
        sizes = (
            f"N={meta['n']:,} messages, {meta['samples']} latency samples, "
            f"median of {meta['reps']} repetition(s)"
        )
    return (
        f"djqueue benchmarks ({meta['mode']} run, {meta['date']}, "
        f"{meta['machine']}): {sizes}; took {meta['seconds']:.0f}s."
    )


def publish(results: dict, meta: dict, stem: Path) -> str:
    """Write ``stem``.md and ``stem``.png; return the text report."""
    head, body = table(results, meta)
    ratios = ratio_rows(results, meta)
    ratio_head = ["djqueue", "figure", "x raw limit", "x best peer"]
    stem.with_suffix(".md").write_text(
        f"# {header(meta)}\n\n{markdown(head, body)}\n\n"
        "## djqueue relative to the raw limit and the best peer on the same "
        "store (>1x is better: faster, quicker or smaller)\n\n"
        f"{markdown(ratio_head, [list(r) for r in ratios])}\n"
    )
    from .chart import draw

    chart_note = draw(ratios, stem.with_suffix(".png"))
    return (
        f"{header(meta)}\n\n{text_table(head, body)}\n\n"
        f"{text_table(ratio_head, [list(r) for r in ratios])}\n\n"
        f"Report: {stem.with_suffix('.md')}\n{chart_note}"
    )


def djqueue_failures(results: dict) -> list[str]:
    """Every djqueue scenario that failed or could not run."""
    failures = []
    for key, row in results.items():
        if row.get("kind", "djqueue" if key.startswith("djqueue") else "") != "djqueue":
            continue
        if "error" in row:
            failures.append(f"{key}: {row['error']}")
        for scenario, cell in row.items():
            if isinstance(cell, dict) and "error" in cell:
                failures.append(f"{key} {scenario}: {cell['error']}")
    return failures
