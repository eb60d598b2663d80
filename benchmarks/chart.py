"""The report's chart; skipped with a message without matplotlib.

A full run draws djqueue's ratios to the raw limit and the best peer; a
memory run draws each consumer's RSS against the messages it has run; a depth
run draws each system's drain rate against the depth of its queue.
"""

from __future__ import annotations

from pathlib import Path


def draw(results: dict, meta: dict, path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "Chart skipped: matplotlib is not installed in benchmarks/.env."
    from .report import ratio_rows

    if "memory" in meta["scenarios"]:
        fig = _memory(plt, results)
    elif "depth" in meta["scenarios"]:
        fig = _depth(plt, results, meta["depths"])
    else:
        fig = _ratios(plt, ratio_rows(results, meta))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"Chart: {path}"


def _ratios(plt, ratios: list[tuple[str, str, str, str]]):
    labels = [f"{system}: {figure}" for system, figure, _, _ in ratios]
    series = {
        "x raw limit (same store)": [_value(r[2]) for r in ratios],
        "x best peer (same store)": [_value(r[3]) for r in ratios],
    }
    fig, ax = plt.subplots(figsize=(9, max(4, 0.3 * len(labels) + 1)))
    height = 0.4
    for offset, (name, values) in enumerate(series.items()):
        positions = [i + offset * height for i in range(len(labels))]
        ax.barh(positions, values, height=height, label=name)
    ax.set_yticks([i + height / 2 for i in range(len(labels))], labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("djqueue relative to the reference (>1 is better; log scale)")
    ax.set_title("djqueue against the raw limits and the best peer", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return fig


def _memory(plt, results: dict):
    fig, ax = plt.subplots(figsize=(7, 4))
    top = 1.0
    for key, row in results.items():
        points = (row.get("memory") or {}).get("rss")
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=key)
            top = max(top, *(mib for _, mib in points))
    ax.set_xscale("log")
    ax.set_ylim(0, top * 1.25)
    ax.set_xlabel("messages run by the consumer (log scale)")
    ax.set_ylabel("RSS of the consumer's process tree (MiB)")
    ax.set_title("Consumer memory over one consumer's life", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def _depth(plt, results: dict, depths: list[int]):
    from .report import number

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, row in results.items():
        points = [
            (depth, rate)
            for depth in depths
            if (rate := number(row, f"depth:{depth}", "value")) is not None
        ]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=key)
    ax.set_xscale("log")
    ax.set_xticks(depths, [f"{depth:,}" for depth in depths])
    ax.tick_params(axis="x", which="minor", labelbottom=False)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("messages queued when the drain starts (log scale)")
    ax.set_ylabel("drain/s over the first N messages")
    ax.set_title("Drain rate versus queue depth", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def _value(text: str) -> float:
    head = text.split()[0]
    return float(head.rstrip("x")) if head != "n/a" else 0.0
