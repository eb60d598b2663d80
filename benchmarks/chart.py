"""The bar chart of djqueue's ratios; skipped with a message without matplotlib."""

from __future__ import annotations

from pathlib import Path


def draw(ratios: list[tuple[str, str, str, str]], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "Chart skipped: matplotlib is not installed in benchmarks/.env."
    labels = [f"{system}\n{figure}" for system, figure, _, _ in ratios]
    series = {
        "x raw limit": [_value(r[2]) for r in ratios],
        "x best peer": [_value(r[3]) for r in ratios],
    }
    fig, ax = plt.subplots(figsize=(8, max(4, 0.32 * len(labels))))
    height = 0.4
    for offset, (name, values) in enumerate(series.items()):
        positions = [i + offset * height for i in range(len(labels))]
        ax.barh(positions, values, height=height, label=name)
    ax.set_yticks([i + height / 2 for i in range(len(labels))], labels, fontsize=6)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("djqueue relative to the reference (>1 is better; log scale)")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"Chart: {path}"


def _value(text: str) -> float:
    return float(text.rstrip("x")) if text != "n/a" else 0.0
