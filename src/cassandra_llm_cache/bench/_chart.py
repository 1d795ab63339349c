"""The PNG chart (matplotlib, from the optional ``bench`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._analysis import find
from cassandra_llm_cache.bench._scenario import HIT, RAW, READ, SYSTEM_ORDER

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


def _hit_rows(results: Sequence[dict[str, Any]], payload: str) -> list[tuple[str, float, float]]:
    rows = []
    for system in SYSTEM_ORDER:
        result = find(results, system, READ if system == RAW else HIT, payload)
        if result is not None:
            label = "raw driver read" if system == RAW else system
            median = result["median"]
            rows.append((label, float(median["p50_us"]), float(median["cpu_us_per_op"])))
    return rows


def _label(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"  # noqa: PLR2004


def write_chart(path: Path, document: dict[str, Any]) -> bool:
    """Draw sync hit p50 and client CPU per hit for every system; False if matplotlib is absent."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    payloads = [payload["label"] for payload in document["payloads"]]
    per_payload = {label: _hit_rows(document["results"], label) for label in payloads}
    systems = [name for name, _, _ in per_payload[payloads[0]]] if payloads else []
    if not systems:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(12, 0.6 * len(systems) + 2.0), sharey=True)
    height = 0.8 / len(payloads)
    for column, (title, index) in enumerate(
        (("Sync hit latency p50 (us, log scale)", 1), ("Client CPU per hit (us, log scale)", 2))
    ):
        axis = axes[column]
        for offset, label in enumerate(payloads):
            values = {row[0]: row[index] for row in per_payload[label]}
            positions = [i + offset * height for i in range(len(systems))]
            bars = axis.barh(
                positions, [values.get(name, 0.0) for name in systems], height, label=label
            )
            axis.bar_label(
                bars,
                labels=[_label(bar.get_width()) for bar in bars],
                padding=2,
                fontsize=8,
            )
        axis.set_xscale("log")
        low, high = axis.get_xlim()
        axis.set_xlim(low, high * 4)  # room for the value labels
        axis.set_title(title)
        axis.grid(axis="x", alpha=0.3)
    axes[0].set_yticks([i + height * (len(payloads) - 1) / 2 for i in range(len(systems))])
    axes[0].set_yticklabels(systems)
    axes[0].invert_yaxis()
    axes[1].legend(title="payload", loc="upper right")
    figure.suptitle(f"cassandra-llm-cache bench, {document['generated']} (lower is better)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
