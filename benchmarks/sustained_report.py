"""The sustained run's report (:mod:`benchmarks.sustained`): the summary
of each queue in each condition (medians of the repetitions), the ratios of
a held-open transaction to none, each table's storage parameters, the
server's settings and each cell's time series, as text, Markdown and
reStructuredText tables and a JSON file."""

from __future__ import annotations

import json
import statistics

from .tables import markdown, rst, text_table

MIB = 1024 * 1024


SUMMARY_FIELDS = (
    "offered", "rate", "rate_tail", "backlog", "dead", "dead_peak", "live",
    "table_mib", "index_mib", "hot_share", "autovacuums",
)  # fmt: skip


def medians(cells: list[dict]) -> dict | None:
    """The median of each summary figure over the repetitions that passed."""
    summaries = [c["summary"] for c in cells if "summary" in c]
    if not summaries:
        return None
    out = {}
    for name in SUMMARY_FIELDS:
        values = [s[name] for s in summaries if s[name] is not None]
        out[name] = statistics.median(values) if values else None
    out["rates_tail"] = [s["rate_tail"] for s in summaries]
    return out


def summary_rows(data: dict) -> list[list[str]]:
    rows = []
    for key, by_condition in data["results"].items():
        for condition, cells in by_condition.items():
            m = medians(cells)
            if m is None:
                error = cells[0].get("error", "-") if cells else "-"
                rows.append([key, condition, error])
                continue
            hot = "-" if m["hot_share"] is None else f"{m['hot_share']:.0%}"
            rows.append([
                key, condition, f"{m['offered']:,.0f}", f"{m['rate']:,.0f}",
                f"{m['rate_tail']:,.0f}", f"{m['backlog']:,.0f}",
                f"{m['dead']:,.0f}", f"{m['live']:,.0f}", f"{m['table_mib']:.1f}",
                f"{m['index_mib']:.1f}", hot, f"{m['autovacuums']:.0f}",
            ])  # fmt: skip
    return rows


SUMMARY_HEAD = [
    "queue", "condition", "offered/s", "done/s", "done/s last third",
    "backlog at end", "dead rows at end", "live rows at end", "table MiB",
    "indexes MiB", "HOT updates", "autovacuums",
]  # fmt: skip


def ratio_rows(data: dict) -> list[list[str]]:
    """Per queue: held over shipped for throughput and dead rows."""
    rows = []
    for key, by_condition in data["results"].items():
        shipped = medians(by_condition.get("shipped", []))
        held = medians(by_condition.get("held", []))
        if not shipped or not held:
            continue
        rows.append([
            key,
            _times(held["rate_tail"], shipped["rate_tail"]),
            _times(held["rate"], shipped["rate"]),
            _times(held["dead"], shipped["dead"]),
            _times(held["table_mib"] + held["index_mib"],
                   shipped["table_mib"] + shipped["index_mib"]),
        ])  # fmt: skip
    return rows


RATIO_HEAD = [
    "queue", "done/s last third, held/shipped", "done/s, held/shipped",
    "dead rows at end, held/shipped", "table+indexes, held/shipped",
]  # fmt: skip


def _times(value, reference) -> str:
    if value is None or not reference:
        return "n/a"
    return f"{value / reference:.2f}x"


def series_rows(cell: dict) -> list[list[str]]:
    """One row per sample: rate since the previous sample, backlog, table."""
    rows, previous = [], None
    for s in cell["samples"]:
        rate = "-"
        if previous is not None and s["t"] > previous["t"]:
            rate = f"{(s['done'] - previous['done']) / (s['t'] - previous['t']):,.0f}"
        rows.append([
            f"{s['t']:.0f}", rate, f"{s['produced'] - s['done']:,}",
            f"{s['dead']:,}", f"{s['live']:,}", f"{s['table_bytes'] / MIB:.1f}",
            f"{s['index_bytes'] / MIB:.1f}", str(s["autovacuums"]),
        ])  # fmt: skip
        previous = s
    return rows


SERIES_HEAD = [
    "s", "done/s", "backlog", "dead rows", "live rows", "table MiB",
    "indexes MiB", "autovacuums",
]  # fmt: skip


def sections(data: dict, meta: dict) -> list[tuple[str, list[str], list]]:
    reps = meta["reps"]
    parts = [
        (
            f"Sustained run: {meta['rate']:,} messages/s offered for "
            f"{meta['seconds']:g} s per cell (medians of {reps} repetition(s))",
            SUMMARY_HEAD,
            summary_rows(data),
        ),
        ("Held-open transaction against none, per queue", RATIO_HEAD, ratio_rows(data)),
        (
            "Storage parameters of each queue's table",
            ["queue", "reloptions"],
            [[k, ", ".join(v) or "(defaults)"] for k, v in data["settings"].items()],
        ),
    ]
    if "server" in data:
        parts.append(("The server", ["setting", "value"], data["server"]))
    for key, by_condition in data["results"].items():
        for condition, cells in by_condition.items():
            for rep, cell in enumerate(cells, 1):
                if "samples" in cell:
                    title = f"{key}, {condition}, repetition {rep}"
                    parts.append((title, SERIES_HEAD, series_rows(cell)))
    return parts


def failures(data: dict) -> list[str]:
    return [
        f"sustained {key} {condition}: {cell['error']}"
        for key, by_condition in data["results"].items()
        for condition, cells in by_condition.items()
        for cell in cells
        if "error" in cell
    ]


def publish(data: dict, meta: dict, name: str) -> str:
    """Write ``results/<name>.{json,md,rst}``; return the text report."""
    from .main import RESULTS_DIR

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = RESULTS_DIR / name
    stem.with_suffix(".json").write_text(json.dumps([meta, data], indent=1))
    parts = sections(data, meta)
    head = (
        f"djqueue sustained run ({meta['date']}, commit {meta['commit']}, "
        f"{meta['machine']}); took {meta['took']:.0f}s."
    )
    stem.with_suffix(".md").write_text(
        f"# {head}\n\n"
        + "".join(f"## {title}\n\n{markdown(h, b)}\n\n" for title, h, b in parts)
    )
    stem.with_suffix(".rst").write_text(
        "\n".join(rst(title, h, b) for title, h, b in parts)
    )
    text = "".join(f"{title}\n\n{text_table(h, b)}\n\n" for title, h, b in parts)
    return f"{head}\n\n{text}Report: {stem.with_suffix('.md')}"
