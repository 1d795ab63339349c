"""Writes ``docs/semantic-quality.md`` (tables, choices, caveats) and its PNG plot."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache.embeddings import LOCAL_EMBEDDINGS_SCORE_THRESHOLD
from cassandra_llm_cache.eval._metrics import (
    Outcome,
    by_kind,
    outcome,
    recommended_threshold,
    sweep,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from cassandra_llm_cache.eval._runner import RunResult

_SAME: Final = 1e-9  # thresholds closer than this are the same grid point
TARGET_PRECISION: Final = 0.90
TARGET_FALSE_HIT_RATE: Final = 0.05
SUITES: Final = (
    "paraphrase",
    "hard-negative",
    "same-meaning",
    "holdout-hard-negative",
    "holdout-same-meaning",
)


def thresholds(low: float = 0.80, high: float = 0.995, step: float = 0.005) -> list[float]:
    count = round((high - low) / step)
    return [round(low + i * step, 4) for i in range(count + 1)]


def analyse(result: RunResult) -> tuple[list[Outcome], float | None]:
    """Every suite at every threshold, and the recommended threshold."""
    outcomes = sweep(result.probes, thresholds(), SUITES)
    chosen = recommended_threshold(
        outcomes, min_precision=TARGET_PRECISION, max_false_hit_rate=TARGET_FALSE_HIT_RATE
    )
    return outcomes, chosen


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def _table_rows(outcomes: Sequence[Outcome], shown: Sequence[float], default: float) -> list[str]:
    index = {(o.suite, o.threshold, o.guard): o for o in outcomes}
    rows = [
        (
            "| threshold | paraphrase P | R | F1 | P guard | R guard | F1 guard "
            "| hard-neg false hits | with guard | same-meaning R guard |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for threshold in shown:
        para, para_g = (
            index[("paraphrase", threshold, False)],
            index[("paraphrase", threshold, True)],
        )
        neg, neg_g = (
            index[("hard-negative", threshold, False)],
            index[("hard-negative", threshold, True)],
        )
        same_g = index[("same-meaning", threshold, True)]
        mark = " **(default)**" if abs(threshold - default) < _SAME else ""
        rows.append(
            f"| {threshold:.3f}{mark} | {_pct(para.precision)} | {_pct(para.recall)} "
            f"| {_pct(para.f1)} | {_pct(para_g.precision)} | {_pct(para_g.recall)} "
            f"| {_pct(para_g.f1)} | {_pct(neg.false_hit_rate)} | {_pct(neg_g.false_hit_rate)} "
            f"| {_pct(same_g.recall)} |"
        )
    return rows


def _kind_rows(result: RunResult, threshold: float) -> list[str]:
    off = by_kind(result.probes, threshold, guard=False)
    on = by_kind(result.probes, threshold, guard=True)
    rows = [
        "| kind | pairs | false hits without guard | with guard |",
        "|---|---|---|---|",
    ]
    for kind in sorted(off):
        if kind == "same-meaning":
            continue
        rows.append(
            f"| {kind} | {off[kind].queries} | {_pct(off[kind].false_hit_rate)} "
            f"| {_pct(on[kind].false_hit_rate)} |"
        )
    return rows


def render(
    result: RunResult,
    outcomes: Sequence[Outcome],
    chosen: float | None,
    *,
    default: float = LOCAL_EMBEDDINGS_SCORE_THRESHOLD,
    plot_name: str = "semantic-quality.png",
) -> str:
    """The Markdown report."""
    at = {(o.suite, o.guard): o for o in outcomes if abs(o.threshold - default) < _SAME}
    if not at:  # the default is off the grid: compute it directly
        at = {
            (suite, guard): outcome(result.probes, suite, default, guard=guard)
            for suite in SUITES
            for guard in (False, True)
        }
    para, para_g = at[("paraphrase", False)], at[("paraphrase", True)]
    neg, neg_g = at[("hard-negative", False)], at[("hard-negative", True)]
    same, same_g = at[("same-meaning", False)], at[("same-meaning", True)]
    hold, hold_g = at[("holdout-hard-negative", False)], at[("holdout-hard-negative", True)]
    hold_same_g = at[("holdout-same-meaning", True)]
    shown = thresholds(0.88, 0.99, 0.005)
    kinds = len({p.kind for p in result.pairs if not p.same})
    dev_negatives = sum(1 for p in result.pairs if not p.same and p.split == "dev")
    dev_same = sum(1 for p in result.pairs if p.same and p.split == "dev")
    hold_negatives = sum(1 for p in result.pairs if not p.same and p.split != "dev")
    hold_same = sum(1 for p in result.pairs if p.same and p.split != "dev")
    load = ", ".join(f"{x:.2f}" for x in result.load_average) if result.load_average else "unknown"
    chosen_text = f"{chosen:.3f}" if chosen is not None else "none (no threshold met both targets)"
    lines = [
        "# Semantic cache hit quality",
        "",
        (
            "Measured by `cassandra-llm-cache eval-semantic` (`make eval-semantic`) on "
            f"{dt.datetime.now(tz=dt.timezone.utc).date().isoformat()}, Apache Cassandra "
            f"{result.server_version} (local node), embedding `{result.embedding_name}` "
            f"(multilingual-e5-small, 4-bit, CPU), cosine similarity computed by Cassandra, "
            f"{result.candidates} candidates per lookup. Everything below is regenerated by that "
            "command; nothing is edited by hand except this page's prose."
        ),
        "",
        f"![precision, recall and false hits against the threshold]({plot_name})",
        "",
        "## Default threshold",
        "",
        (
            f"`LocalEmbeddings` recommends **{default:.3f}**; `CassandraSemanticCache` uses it "
            "when "
            "no `score_threshold` is given (other embeddings keep the legacy 0.85). "
            f"From this run's curve, the lowest threshold (most hits) at which the paraphrase "
            f"precision is at least {TARGET_PRECISION:.0%} and the hard-negative false-hit rate at "
            f"most {TARGET_FALSE_HIT_RATE:.0%}, both with the guard on and at every higher "
            f"threshold too, is **{chosen_text}**."
        ),
        "",
        f"At {default:.3f}:",
        "",
        "| | without guard | with guard (default) |",
        "|---|---|---|",
        f"| paraphrase precision | {_pct(para.precision)} | {_pct(para_g.precision)} |",
        f"| paraphrase recall | {_pct(para.recall)} | {_pct(para_g.recall)} |",
        (
            f"| paraphrase false-hit rate (wrong or unwanted hits per query) "
            f"| {_pct(para.false_hit_rate)} | {_pct(para_g.false_hit_rate)} |"
        ),
        (
            f"| hard negatives answered (false-hit rate), {neg.queries} pairs "
            f"| {_pct(neg.false_hit_rate)} | {_pct(neg_g.false_hit_rate)} |"
        ),
        (
            f"| same-meaning controls answered (recall), {same.queries} pairs "
            f"| {_pct(same.recall)} | {_pct(same_g.recall)} |"
        ),
        (
            f"| hold-out hard negatives answered, {hold.queries} pairs "
            f"| {_pct(hold.false_hit_rate)} | {_pct(hold_g.false_hit_rate)} |"
        ),
        (
            f"| hold-out same-meaning answered, {hold_same_g.queries} pairs "
            f"| {_pct(at[('holdout-same-meaning', False)].recall)} | {_pct(hold_same_g.recall)} |"
        ),
        "",
        "## Data",
        "",
        (
            f"- **Paraphrase pairs** ({result.paraphrases.pairs} pairs with distinct origins, from "
            "GPTCache's `mock_data.json`, MIT, shipped in `cassandra_llm_cache/eval/`): the "
            "origins "
            f"of a fixed half ({len(result.paraphrases.cached)}, chosen by a hash of the text) are "
            f"cached, then all {len(result.paraphrases.queries)} paraphrases are looked up. A hit "
            "on the paraphrase's own origin is correct; a hit on any other entry, or for a "
            "paraphrase whose origin is not cached, is a false hit. Precision = correct hits / "
            "hits; recall = correct hits / paraphrases whose origin is cached. Many origins are "
            'templated near-duplicates of each other ("No, X doesn\'t exist in version 2.10.0"), '
            "which makes this set harder than its size suggests."
        ),
        (
            f"- **Written pairs** (`hard_negatives.jsonl`, this project's own): {dev_negatives} "
            "hard "
            f"negatives in {kinds} kinds (reversed conversions, changed numbers, negations, "
            "swapped "
            "names, different constraints, opposites, swapped roles, different questions) and "
            f"{dev_same} same-meaning controls that carry the same kinds of features (numbers, "
            "units, "
            "negations, names) but mean the same thing. Each pair is isolated (its own model "
            "string, "
            "filtered inside the ANN query): the question is only whether the cached prompt "
            "answers the query."
        ),
        (
            f"- **Hold-out pairs**: {hold_negatives} more negatives and {hold_same} controls "
            "written "
            "after the guard was finished and never used to tune it. The guard was developed while "
            "looking at the paraphrase set and the other written pairs, so its numbers on those "
            "are "
            "optimistic; the hold-out numbers are the honest estimate."
        ),
        "",
        "## Precision, recall and false hits by threshold",
        "",
        (
            "P/R/F1 on the paraphrase set; false-hit rate on the hard negatives; recall on the "
            "same-meaning controls (guard on)."
        ),
        "",
        *_table_rows(outcomes, shown, default),
        "",
        f"## Hard negatives by kind at {default:.3f}",
        "",
        *_kind_rows(result, default),
        "",
        (
            'The guard cannot see a swapped common noun ("cats" / "dogs", "pytest" / '
            '"unittest", "vegetarian" / "vegan"), a swapped subject and object '
            '("did A invade B"), or a different question about the same thing ("How do bees '
            'make honey" / "... wax"): those false hits are what is left, and why a '
            "`verifier` (e.g. a small LLM judge) exists for applications where a wrong answer "
            "is expensive."
        ),
        "",
        "## Latency and cost",
        "",
        (
            f"- Embedding (`LocalEmbeddings`, 1 thread): {result.embeddings_per_second:.1f} "
            "texts/s "
            f"over {result.embedding_calls} texts of this run (1-3 sentences each)."
        ),
        (
            f"- Semantic lookup on the local node, {result.lookup_with_embedding.samples} "
            "paraphrase lookups (exact read, embedding, ANN query with the scope filter, guard): "
            f"p50 {_ms(result.lookup_with_embedding.p50)}, "
            f"p99 {_ms(result.lookup_with_embedding.p99)}."
        ),
        (
            "- The same lookups again, embedding from the memo (exact read + ANN query + guard, "
            f"i.e. the database's share): p50 {_ms(result.lookup_from_memo.p50)}, "
            f"p99 {_ms(result.lookup_from_memo.p99)}."
        ),
        (
            f"- Machine: 2 shared cores; load average during the run: {load}. The embedding "
            "dominates a semantic lookup; with a remote embedding API its latency replaces it."
        ),
        "",
        "## How the score is computed",
        "",
        (
            "The SAI index on the vector column ranks with `similarity_function = 'COSINE'` and "
            "the "
            "query selects `similarity_cosine(embedding, ?)` for each returned row, so ranking and "
            "threshold use one metric, computed by Cassandra; the cache reports it as a cosine "
            "(Cassandra's (1 + cos) / 2 converted back), the scale of the legacy class. The model "
            "and namespace filter (`scope = ?`, an SAI index) is inside the ANN query."
        ),
        "",
    ]
    return "\n".join(lines)


def plot(outcomes: Sequence[Outcome], path: Path, *, default: float) -> None:
    """The PNG: paraphrase precision/recall and hard-negative false hits against the threshold."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    def series(suite: str, guard: bool, metric: str) -> tuple[list[float], list[float]]:
        xs: list[float] = []
        ys: list[float] = []
        for item in outcomes:
            if item.suite == suite and item.guard == guard:
                value = getattr(item, metric)
                if value is not None:
                    xs.append(item.threshold)
                    ys.append(value)
        return xs, ys

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for guard, style in ((False, "--"), (True, "-")):
        label = "guard" if guard else "no guard"
        left.plot(
            *series("paraphrase", guard, "precision"),
            style,
            color="C0",
            label=f"precision, {label}",
        )
        left.plot(
            *series("paraphrase", guard, "recall"), style, color="C1", label=f"recall, {label}"
        )
        right.plot(
            *series("hard-negative", guard, "false_hit_rate"),
            style,
            color="C3",
            label=f"hard negatives answered, {label}",
        )
        right.plot(
            *series("same-meaning", guard, "recall"),
            style,
            color="C2",
            label=f"same-meaning answered, {label}",
        )
    for axis, title in ((left, "Paraphrase set"), (right, "Written pairs")):
        axis.axvline(default, color="grey", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("cosine threshold")
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="lower left")
    figure.suptitle(f"CassandraSemanticCache + LocalEmbeddings (default threshold {default:.3f})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
