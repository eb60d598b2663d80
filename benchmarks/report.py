"""The report: a text table, ``results/<name>.md`` and a ratio chart PNG."""

from __future__ import annotations

from pathlib import Path

from .tables import markdown, rst, text_table
from .targets import MEMORY_LIMIT, TARGETS

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
    ("memory", "RSS large/small", "ratio", False, "{:.3f}"),
]
SCALE = {"latency": 1000.0}
UNITS = {"enqueue": "/s", "bulk": "/s", "drain": "/s", "drain1": "/s", "depth": "/s"}


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
        if scenario == "memory":
            note = ""
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


def best(results, keys, scenarios, field, higher) -> tuple[float, str] | None:
    """The best figure among ``keys`` x ``scenarios`` and where it came from."""
    found = [
        (value, f"{key} {scenario}" if len(scenarios) > 1 else key)
        for key in keys
        for scenario in scenarios
        if key in results
        and (value := number(results[key], scenario, field)) is not None
    ]
    if not found:
        return None
    pick = max if higher else min
    return pick(found, key=lambda pair: pair[0])


def reference(results, row, scenario, field, higher, kind):
    """The raw limit or the best peer on the same store, with its key."""
    keys = [
        key
        for key, other in results.items()
        if other.get("kind") == kind and other.get("store") == row.get("store")
    ]
    return best(results, keys, (scenario,), field, higher)


def ratio_rows(results: dict, meta: dict) -> list[tuple[str, str, str, str]]:
    """(system, figure, vs raw, vs best peer) for each djqueue figure."""
    rows = []
    for key, row in results.items():
        if row.get("kind") != "djqueue":
            continue
        for scenario, title, field, higher, _ in figures(meta):
            if scenario == "memory":
                continue
            value = number(row, scenario, field)
            cells = []
            for kind in ("raw", "peer"):
                ref = reference(results, row, scenario, field, higher, kind)
                times = _times(ratio(value, ref and ref[0], higher))
                cells.append(f"{times} ({ref[1]})" if ref and kind == "peer" else times)
            rows.append((key, title, *cells))
    return rows


def target_rows(results: dict, meta: dict) -> list[list[str]]:
    """[target, djqueue, reference, ratio, needed, met?] for each target whose
    figures this run measures."""
    rows = []
    for target in TARGETS:
        if not target.scenarios <= set(meta["scenarios"]):
            continue
        higher = not target.at_most
        ours = best(results, *target.ours, higher)
        theirs = best(results, *target.theirs, higher)
        value = ratio(ours and ours[0], theirs and theirs[0], True)
        met = value is not None and (
            value <= target.factor if target.at_most else value >= target.factor
        )
        scenario = target.ours[1][0].split(":")[0]
        rows.append([
            target.text,
            _figure(ours, scenario),
            _figure(theirs, scenario),
            _times(value),
            f"{'<=' if target.at_most else '>='} {target.factor:g}x",
            "n/a" if value is None else "met" if met else "MISSED",
        ])  # fmt: skip
    return rows


def depth_rows(results: dict, meta: dict) -> list[list[str]]:
    """[system, drain/s at each depth..., largest/smallest] per system."""
    rows, depths = [], meta["depths"]
    for key, row in results.items():
        cells = [cell_text(row, f"depth:{d}", "value", "{:,.0f}") for d in depths]
        small = number(row, f"depth:{depths[0]}", "value")
        large = number(row, f"depth:{depths[-1]}", "value")
        rows.append([key, *cells, _times(ratio(large, small, True))])
    return rows


def memory_rows(results: dict) -> list[list[str]]:
    """[system, RSS at each count..., large/small, met?] per measured system."""
    rows = []
    for key, row in results.items():
        cell = row.get("memory") or {}
        if "rss" not in cell:
            reason = row.get("error") or cell.get("error") or "not measured"
            rows.append([key, f"n/a ({reason})", "", ""])
            continue
        rss = ", ".join(f"{n:,}: {mib:.1f} MiB" for n, mib in cell["rss"])
        verdict = "met" if cell["ratio"] <= MEMORY_LIMIT else "MISSED"
        rows.append([key, rss, f"{cell['ratio']:.3f}", verdict])
    return rows


CPU_TITLE = (
    "CPU time per message while draining, after the first tenth (medians; "
    "cores: CPU seconds per second of the drain)"
)
CPU_HEAD = [
    "system", "workers", "drain/s", "consumer us/msg", "servers us/msg",
    "consumer cores", "servers cores",
]  # fmt: skip


def cpu_rows(results: dict) -> list[list[str]]:
    """[system, workers, rate, CPU per message of the consumer and of the
    servers, the cores each kept busy] for each drain that has them."""
    rows = []
    for key, row in results.items():
        for scenario, workers in (("drain", "default"), ("drain1", "1")):
            cell = row.get(scenario)
            if not isinstance(cell, dict) or "consumer_us" not in cell:
                continue
            rate, ours, theirs = cell["value"], cell["consumer_us"], cell["servers_us"]
            rows.append([
                key, workers, f"{rate:,.0f}", f"{ours:,.0f}", f"{theirs:,.0f}",
                f"{ours * rate / 1e6:.2f}", f"{theirs * rate / 1e6:.2f}",
            ])  # fmt: skip
    return rows


def _figure(found, scenario: str) -> str:
    if found is None:
        return "n/a"
    value, where = found
    if scenario == "memory":
        return f"{value:.1f} MiB ({where})"
    fmt = "{:.2f} ms" if scenario == "latency" else "{:,.0f}" + UNITS.get(scenario, "")
    return f"{fmt.format(value)} ({where})"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def table(results: dict, meta: dict) -> tuple[list[str], list[list[str]]]:
    head = ["system", *(f[1] for f in figures(meta))]
    body = [
        [f"{key}: {row.get('label', key)}" + _size(row, meta)]
        + [cell_text(row, s, fld, fmt) for s, _, fld, _, fmt in figures(meta)]
        for key, row in results.items()
    ]
    return head, body


def _size(row: dict, meta: dict) -> str:
    n = row.get("_n")
    return (
        f" (N={n:,})"
        if n and n != meta["n"] and "memory" not in meta["scenarios"]
        else ""
    )


def header(meta: dict) -> str:
    if "memory" in meta["scenarios"]:
        counts = meta["memory_n"].split(",")
        sizes = f"consumer RSS after {', '.join(counts)} messages"
    elif "depth" in meta["scenarios"]:
        depths = ", ".join(f"{d:,}" for d in meta["depths"])
        sizes = (
            f"drain of N={meta['n']:,} at depths {depths}, median of "
            f"{meta['reps']} repetition(s)"
        )
    else:
        sizes = (
            f"N={meta['n']:,} messages, {meta['samples']} latency samples, "
            f"median of {meta['reps']} repetition(s)"
        )
        if meta.get("peer_n", meta["n"]) != meta["n"]:
            sizes += f" (peers: N={meta['peer_n']:,})"
    return (
        f"djqueue benchmarks ({meta['mode']} run, {meta['date']}, commit "
        f"{meta.get('commit', '?')}, {meta['machine']}): {sizes}; "
        f"took {meta['seconds']:.0f}s."
    )


TARGETS_TITLE = (
    "Targets (ratios within this run; a peer's drain is its best measured "
    "concurrency where the target says 'fastest')"
)
TARGETS_HEAD = ["target", "djqueue", "reference", "ratio", "needed", "result"]


def sections(results: dict, meta: dict) -> list[tuple[str, list[str], list]]:
    """(title, head, body) of each table of the report."""
    targets = (TARGETS_TITLE, TARGETS_HEAD, target_rows(results, meta))
    if "depth" in meta["scenarios"]:
        depths = [f"drain/s at {d:,} queued" for d in meta["depths"]]
        return [
            (
                f"Drain versus queue depth: the first N={meta['n']:,} messages "
                "run from a queue filled to each depth (medians)",
                ["system", *depths, "largest/smallest"],
                depth_rows(results, meta),
            ),
            targets,
        ]
    head, body = table(results, meta)
    out = [("Figures (medians)", head, body)]
    if "memory" in meta["scenarios"]:
        out.append((
            f"Consumer memory: RSS after the largest count / after the smallest "
            f"(target <= {MEMORY_LIMIT:g})",
            ["system", "RSS of the consumer's process tree", "large/small", "target"],
            memory_rows(results),
        ))  # fmt: skip
        return [*out, targets]
    out.append((
        "djqueue relative to the raw limit and the best peer on the same store "
        "(>1x is better: faster, quicker or smaller)",
        ["djqueue", "figure", "x raw limit", "x best peer"],
        [list(r) for r in ratio_rows(results, meta)],
    ))  # fmt: skip
    if cpu := cpu_rows(results):
        out.append((CPU_TITLE, CPU_HEAD, cpu))
    return [*out, targets]


def publish(results: dict, meta: dict, stem: Path) -> str:
    """Write ``stem``.md and ``stem``.png; return the text report."""
    parts = sections(results, meta)
    stem.with_suffix(".md").write_text(
        f"# {header(meta)}\n\n"
        + "".join(f"## {title}\n\n{markdown(h, b)}\n\n" for title, h, b in parts)
    )
    stem.with_suffix(".rst").write_text(
        "\n".join(rst(title, h, b) for title, h, b in parts)
    )
    from .chart import draw

    chart_note = draw(results, meta, stem.with_suffix(".png"))
    text = "".join(f"{title}\n\n{text_table(h, b)}\n\n" for title, h, b in parts)
    return f"{header(meta)}\n\n{text}Report: {stem.with_suffix('.md')}\n{chart_note}"


def failures(results: dict, strict: bool) -> list[str]:
    """Every djqueue scenario that failed or could not run; with ``strict``
    (the smoke run), every failure of any system."""
    found = []
    for key, row in results.items():
        kind = row.get("kind") or ("djqueue" if key.startswith("djqueue") else "")
        if not strict and kind != "djqueue":
            continue
        if "error" in row:
            found.append(f"{key}: {row['error']}")
        for scenario, cell in row.items():
            if isinstance(cell, dict) and "error" in cell:
                found.append(f"{key} {scenario}: {cell['error']}")
    return found
