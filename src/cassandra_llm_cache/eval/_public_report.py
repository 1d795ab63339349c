"""The report's sections on public held-out data and on the guard beyond English, and their plot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from cassandra_llm_cache.eval._calibrate import Figures, choose
from cassandra_llm_cache.eval._simulation import SimOutcome, replay

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from cassandra_llm_cache.eval._calibrate import ScoredPair
    from cassandra_llm_cache.eval._runner import RunResult
    from cassandra_llm_cache.eval._simulation import PublicRun

CURVE: Final = tuple(round(0.90 + 0.01 * i, 2) for i in range(10))
LANGUAGES: Final = {"de": "German", "fr": "French", "es": "Spanish"}


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def calibrated(run: PublicRun, max_wrong: float) -> tuple[Figures | None, Figures | None]:
    """The calibration half's choice with 95% confidence, and by the measured rate alone."""
    return (
        choose(run.calibration, max_wrong=max_wrong),
        choose(run.calibration, max_wrong=max_wrong, confidence=0),
    )


def _row(label: str, outcome: SimOutcome) -> str:
    return (
        f"| {label} | {outcome.threshold:.4f} | {outcome.requests} | {_pct(outcome.hit_rate)} "
        f"| {_pct(outcome.precision)} | {_pct(outcome.wrong_per_request, 2)} "
        f"| {_pct(outcome.recall)} |"
    )


def public_section(
    result: RunResult, *, default: float, max_wrong: float, plot_name: str
) -> list[str]:
    """Markdown: per data set, the default against the calibrated threshold, and the curve."""
    if not result.public:
        return []
    out = ["## Public held-out data: a cache simulation", ""]
    out.append(
        "Questions nobody on this project wrote, replayed as traffic: the queries of a data "
        "set's test half arrive in a fixed order, each is looked up, a miss is written to the "
        "cache and a hit is served. A hit is right only if the cached entry asks the same "
        "question (pairs labelled the same, transitively; texts never labelled the same count "
        "as different, so precision is a lower bound). Hit rate = hits / requests; precision = "
        "right hits / hits; wrong per request = wrong hits / requests; recall = right hits / "
        "requests whose question was already cached. Each data set is split by a hash into a "
        "calibration half and a test half with no question in both; the calibrated threshold is "
        f"chosen on the calibration half (`calibrate --max-wrong {max_wrong:g}`: the most hits "
        f"whose wrong rate per served hit is at most {max_wrong:.0%}, for the 95% Wilson upper "
        "bound, then for the measured rate alone) and measured on the test half. Guard on."
    )
    out.extend(["", f"![hit rate and wrong answers on public data]({plot_name})", ""])
    for run in result.public:
        strict, point = calibrated(run, max_wrong)
        out.extend([f"### {run.dataset}", ""])
        out.append(
            f"{run.source}; test half: {run.test_pairs} pairs ({run.test_same_pairs} the same "
            f"question), {len(run.test.steps)} distinct queries; calibration half: "
            f"{len(run.calibration)} pairs."
        )
        out.extend(
            [
                "",
                (
                    "| threshold | value | requests | hit rate | precision | wrong per request "
                    "| recall |"
                ),
                "|---|---|---|---|---|---|---|",
                _row("default", replay(run.test, default, guard=True, candidates=4)),
            ]
        )
        for label, figures in (("calibrated, 95% bound", strict), ("calibrated", point)):
            if figures is None:
                out.append(f"| {label} | none meets it | | | | | |")
            else:
                out.append(
                    _row(label, replay(run.test, figures.threshold, guard=True, candidates=4))
                )
        out.extend(["", "The curve on the test half (guard on):", ""])
        out.extend(
            [
                "| threshold | hit rate | precision | wrong per request | recall |",
                "|---|---|---|---|---|",
            ]
        )
        for threshold in CURVE:
            outcome = replay(run.test, threshold, guard=True, candidates=4)
            out.append(
                f"| {threshold:.2f} | {_pct(outcome.hit_rate)} | {_pct(outcome.precision)} "
                f"| {_pct(outcome.wrong_per_request, 2)} | {_pct(outcome.recall)} |"
            )
        out.append("")
    return out


def _share(items: Sequence[ScoredPair], test: Callable[[ScoredPair], bool]) -> str:
    return _pct(sum(1 for item in items if test(item)) / len(items)) if items else "-"


def multilingual_section(result: RunResult, *, default: float) -> list[str]:
    """Markdown: the guard on German, French and Spanish near misses."""
    if not result.multilingual:
        return []
    out = ["## The guard beyond English", ""]
    out.append(
        "Written near misses in German, French and Spanish (`multilingual_near_misses.jsonl`: "
        "changed numbers, reversed conversions, changed units, swapped names, reordered "
        'comparisons, negations, opposites) and same-meaning controls. "Guard only" is the '
        'share of near misses the guard lets through at any threshold; "at the default" adds '
        f"the threshold ({default:.3f}). These pairs were written while the guard's non-English "
        "words were added: the figures are optimistic, like those of the English dev pairs."
    )
    out.extend(
        [
            "",
            (
                "| language | near misses | let through by the guard | answered at the default, "
                "no guard | with guard | same-meaning answered, guard only | at the default |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
    )
    for lang, name in LANGUAGES.items():
        rows = [(pair, scored) for pair, scored in result.multilingual if pair.lang == lang]
        near = [scored for pair, scored in rows if not pair.same]
        same = [scored for pair, scored in rows if pair.same]
        if not near:
            continue

        out.append(
            f"| {name} | {len(near)} | {_share(near, lambda s: s.guard_ok)} "
            f"| {_share(near, lambda s: s.score >= default)} "
            f"| {_share(near, lambda s: s.guard_ok and s.score >= default)} "
            f"| {_share(same, lambda s: s.guard_ok)} "
            f"| {_share(same, lambda s: s.guard_ok and s.score >= default)} |"
        )
    kinds = sorted({pair.kind for pair, _ in result.multilingual if not pair.same})
    through = {
        kind: sum(
            1
            for pair, scored in result.multilingual
            if pair.kind == kind and scored.guard_ok and not pair.same
        )
        for kind in kinds
    }
    total = {kind: sum(1 for pair, _ in result.multilingual if pair.kind == kind) for kind in kinds}
    out.append("")
    out.append(
        "Let through by the guard, by kind (all three languages): "
        + ", ".join(f"{kind} {through[kind]}/{total[kind]}" for kind in kinds)
        + "."
    )
    out.append("")
    return out


def plot(result: RunResult, path: Path, *, default: float) -> None:
    """Hit rate and wrong answers per request against the threshold, one line per data set."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    grid = [round(0.85 + 0.0025 * i, 4) for i in range(57)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for index, run in enumerate(result.public):
        outcomes = [replay(run.test, t, guard=True, candidates=4) for t in grid]
        color = f"C{index}"
        left.plot(grid, [o.hit_rate for o in outcomes], color=color, label=f"{run.dataset} hits")
        recall = [
            (t, o.recall) for t, o in zip(grid, outcomes, strict=True) if o.recall is not None
        ]
        left.plot(
            [t for t, _ in recall],
            [r for _, r in recall],
            "--",
            color=color,
            label=f"{run.dataset} recall",
        )
        right.plot(grid, [o.wrong_per_request for o in outcomes], color=color, label=run.dataset)
    for axis, title in ((left, "Hit rate and recall"), (right, "Wrong answers per request")):
        axis.axvline(default, color="grey", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("cosine threshold (guard on)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle("Cache simulation on public held-out data (test halves)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
