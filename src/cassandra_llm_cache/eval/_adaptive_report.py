"""The report's section on ``max_wrong_rate`` on held-out traffic, beside static thresholds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._semantic.adaptive import CONSERVATIVE_COSINE, MIN_OBSERVATIONS
from cassandra_llm_cache._semantic.pool import BAND_WIDTH
from cassandra_llm_cache.eval._traffic import (
    REQUESTS_PER_QUESTION,
    STATIC_GRID,
    WARMUP_SHARE,
    ZIPF_EXPONENT,
    StaticOutcome,
    best_static,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cassandra_llm_cache.eval._adaptive_sim import AdaptiveOutcome, AdaptiveRun

TARGET_RATIO: Final = 1.5
TARGET_CHECKS: Final = 0.10


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def ratio(outcome: AdaptiveOutcome, static: StaticOutcome | None) -> float | None:
    """The adaptive run's hit rate over the best static threshold's (None without either)."""
    if static is None or not static.hits:
        return None
    return outcome.hits / static.hits


def similar_precision(outcome: AdaptiveOutcome | StaticOutcome) -> float | None:
    """Right answers among the hits of requests whose own text was not cached (None without)."""
    similar = outcome.hits - outcome.exact
    return (outcome.right - outcome.exact) / similar if similar else None


def _pool_table(run: AdaptiveRun) -> list[str]:
    """The pool by band at the end of the run with the lowest floor (the most observations)."""
    seen = min(run.adaptive, key=lambda o: (o.floor, o.max_wrong_rate), default=None)
    if seen is None or not seen.pooled_bands:
        return []
    bands = [(int(n), int(total), int(wrong)) for n, total, wrong in seen.pooled_bands]
    cells = " | ".join
    return [
        (
            f"What the pool saw by similarity band at the end of the run at threshold "
            f"{seen.floor:.3f}, δ = {seen.max_wrong_rate:g} (observations, and the share the "
            "judge found wrong):"
        ),
        "",
        f"| band from | {cells(f'{number * BAND_WIDTH:.2f}' for number, _, _ in bands)} |",
        f"|---|{'|'.join('---' for _ in bands)}|",
        f"| observations | {cells(str(total) for _, total, _ in bands)} |",
        f"| wrong | {cells(_pct(wrong / total, 0) for _, total, wrong in bands)} |",
        "",
    ]


def ceiling(run: AdaptiveRun, max_wrong_rate: float) -> int:
    """The most hits a cache within ``max_wrong_rate`` could serve on the run's traffic: every
    request but the first of each class right, and wrong ones up to the bound."""
    return run.requests - run.requested_classes + int(max_wrong_rate * run.requests)


def _row(run: AdaptiveRun, outcome: AdaptiveOutcome, static: StaticOutcome | None) -> str:
    found = ratio(outcome, static)
    most = (
        "-"
        if static is None or not static.hits
        else f"{ceiling(run, outcome.max_wrong_rate) / static.hits:.2f}"
    )
    best = (
        "none meets it | | |"
        if static is None
        else (
            f"{static.threshold:.3f} | {_pct(static.hit_rate)} ({static.hits - static.exact} "
            f"similar) | {_pct(static.wrong_per_request, 2)} | {_pct(similar_precision(static))}"
        )
    )
    return (
        f"| {outcome.max_wrong_rate:g} | {outcome.floor:.3f} | {_pct(outcome.hit_rate)} "
        f"({outcome.hits - outcome.exact} similar) | {_pct(outcome.wrong_per_request, 2)} "
        f"| {_pct(similar_precision(outcome))} | {_pct(outcome.checks_per_request, 2)} "
        f"| {_pct(outcome.checks_per_request_after_warmup, 2)} | {best} "
        f"| {'-' if found is None else f'{found:.2f}'} | {most} |"
    )


def _learning_row(outcome: AdaptiveOutcome) -> str:
    return (
        f"| {outcome.max_wrong_rate:g} | {outcome.floor:.3f} | {outcome.model_calls} "
        f"| {outcome.observations} ({outcome.judged_wrong} wrong) | {outcome.entries} "
        f"| {outcome.observed_entries} | {outcome.entries_with_min_observations} "
        f"| {outcome.most_observations} | {outcome.certain_entries} "
        f"| {outcome.pooled_observations} "
        f"| {'never' if outcome.pooled_from is None else f'{outcome.pooled_from:.3f}'} "
        f"| {outcome.seconds:.0f} s |"
    )


def _verdict(runs: Sequence[AdaptiveRun]) -> str:
    """One paragraph of measured facts across every run of the section."""
    pairs = [
        (outcome, best_static(run.static, outcome.max_wrong_rate))
        for run in runs
        for outcome in run.adaptive
    ]
    within = sum(1 for outcome, _ in pairs if outcome.wrong_per_request <= outcome.max_wrong_rate)
    ratios = [r for r in (ratio(o, s) for o, s in pairs) if r is not None]
    reached = sum(1 for r in ratios if r >= TARGET_RATIO)
    checks = max((o.checks_per_request_after_warmup for o, _ in pairs), default=0.0)
    certain = sum(o.certain_entries for o, _ in pairs)
    entries = sum(o.entries for o, _ in pairs)
    similar = sum(o.hits - o.exact for o, _ in pairs)
    low, high = (min(ratios), max(ratios)) if ratios else (0.0, 0.0)
    ceilings = [
        ceiling(run, o.max_wrong_rate) / s.hits
        for run in runs
        for o in run.adaptive
        if (s := best_static(run.static, o.max_wrong_rate)) is not None and s.hits
    ]
    return (
        f"Across the {len(pairs)} runs: the wrong answers per request stayed within δ in "
        f"{within}; the hit rate over the best static threshold's ranged from {low:.2f} to "
        f"{high:.2f} and reached the target of {TARGET_RATIO:g}x in {reached}, where no cache "
        f"within δ could have exceeded {max(ceilings, default=0.0):.2f}x on these traffics (the "
        "most possible column); the extra model "
        f"calls after warm-up were at most {_pct(checks, 2)} of requests (target at most "
        f"{TARGET_CHECKS:.0%}). {certain} of the {entries} entries written in all runs had "
        "observations making them certain at some similarity, and the adaptive runs served "
        f"{similar} hits in all to requests whose own text was not cached."
    )


def _why(runs: Sequence[AdaptiveRun]) -> str:
    """The mechanism, with the figures of these runs that explain the table."""
    outcomes = [o for run in runs for o in run.adaptive]
    vouched = [o.pooled_from for o in outcomes if o.pooled_from is not None]
    wrong_shares = [
        wrong / total
        for o in outcomes
        for _, total, wrong in o.pooled_bands
        if total >= MIN_OBSERVATIONS
    ]
    statics = [
        s
        for run in runs
        for o in run.adaptive
        if (s := best_static(run.static, o.max_wrong_rate)) is not None
    ]
    static_similar = [p for p in (similar_precision(s) for s in statics) if p is not None]
    pool = (
        f"The pool vouched in {len(vouched)} of the {len(outcomes)} runs, from similarity "
        f"{min(vouched):.3f} at the lowest. "
        if vouched
        else "The pool never vouched: "
    )
    if wrong_shares:
        pool += (
            f"in the bands with at least {MIN_OBSERVATIONS} observations, the judge found "
            f"{_pct(min(wrong_shares), 0)} to {_pct(max(wrong_shares), 0)} of the candidates "
            f"wrong (the largest δ is {max(o.max_wrong_rate for o in outcomes):g}). "
        )
    static = (
        f"The best static thresholds meet δ per request because most of their hits are "
        f"requests whose own text was cached (always right): of their other hits, "
        f"{_pct(min(static_similar), 0)} to {_pct(max(static_similar), 0)} were right. "
        if static_similar
        else ""
    )
    per_class = [run.half_questions / run.classes for run in runs if run.classes]
    return (
        "Why the figures look like this: an entry, or a band of the model's pool, serves below "
        f"the conservative threshold only with at least {MIN_OBSERVATIONS} observations within "
        "0.05 below the request's similarity and a 95% Wilson upper bound of their wrong rate "
        "at most δ (with no wrong one: 73 right observations for δ = 0.05, 189 for 0.02, 381 "
        "for 0.01). An entry is observed only when a request of another text comes near it and "
        "is refused (or an uncertain hit is explored), and once every member of a class is "
        "cached its requests are read by key and teach nothing; the classes of these sets "
        f"have {min(per_class, default=0.0):.2f} to {max(per_class, default=0.0):.2f} "
        f"questions on average (above), so entries gather little. {pool}"
        f"{static}The rule bounds the wrong rate among the similar answers it serves, per "
        "decision; a static threshold chosen on wrong answers per request can serve similar "
        "answers that are mostly wrong while the cached repeats keep the average low."
    )


def adaptive_section(runs: Sequence[AdaptiveRun]) -> list[str]:
    """Markdown: per data set, ``max_wrong_rate`` runs against the best static threshold."""
    if not runs:
        return []
    out = ["## Error-bounded thresholds on held-out traffic", ""]
    out.append(
        "`max_wrong_rate=δ` (per-entry thresholds, with every entry's observations also "
        "pooled per model by similarity band, [semantic tuning]"
        "(semantic-tuning.md#error-bounded-thresholds-per-entry-max_wrong_rate)) measured on "
        "traffic with repetition drawn from each test half above: the half's question classes "
        f"(texts labelled the same question, transitively) ranked in a fixed hashed order, class "
        f"r drawn with weight 1/r^{ZIPF_EXPONENT:g} (Zipf), each request a member question of its "
        f"class drawn uniformly; {REQUESTS_PER_QUESTION} requests per distinct question of the "
        "half, from a fixed seed (the same traffic on every run of a commit). Each δ runs "
        "through `CachedChatModel` (default `explore=0.1`, fixed seed, default judge) on a "
        "fresh `CassandraSemanticCache(max_wrong_rate=δ)` with the simulation's embedding, "
        "guard and candidates. The wrapped model answers each question with a canonical text "
        "of its class (eight hash words), so the default judge (word-set Jaccard at least 0.8) "
        "calls a cached answer right exactly when the entry is of the same class: an oracle "
        "judge, better than any real judge. A request is right when served from an entry of "
        "its own class; requests whose own text is cached are served by key (counted as "
        '"similar" hits otherwise). The cache\'s threshold is the floor below which no '
        "candidate is considered nor observed: the default, and 0.85 (every entry's "
        "conservative threshold is 0.99 either way). The static side replays the same traffic "
        f"at every threshold from {STATIC_GRID[0]:.3f} to {STATIC_GRID[-1]:.3f} by 0.005 "
        "(guard on); the best static threshold meeting δ is chosen in hindsight on this "
        "traffic: the most hits with wrong answers per request at most δ. Checks are the "
        "extra model calls (`learning_stats().checks`) per request, overall and after the "
        f"warm-up (the first {WARMUP_SHARE:.0%} of requests)."
    )
    out.append("")
    for run in runs:
        out.extend([f"### {run.dataset}: traffic", ""])
        floors = sorted({o.floor for o in run.adaptive} | {CONSERVATIVE_COSINE}, reverse=True)
        beside = "".join(
            f" A static {static.threshold:.3f} on this traffic: hit rate "
            f"{_pct(static.hit_rate)} ({static.hits - static.exact} similar), "
            f"{_pct(static.wrong_per_request, 2)} wrong per request."
            for threshold in floors
            for static in run.static
            if static.threshold == threshold
        )
        possible = run.requests - run.requested_classes
        out.append(
            f"{run.requests} requests of {run.distinct_questions} distinct questions; the half "
            f"has {run.half_questions} questions in {run.classes} classes "
            f"({run.half_questions / run.classes:.2f} per class), {run.requested_classes} of "
            f"them asked, the most asked {run.most_requests_per_class} times. At most "
            f"{possible} requests ({_pct(possible / run.requests if run.requests else 0.0)}) "
            f"can be answered right by any cache: all but the first of each class asked.{beside}"
        )
        out.extend(
            [
                "",
                (
                    "| δ | threshold | hit rate | wrong per request | similar right | checks "
                    "per request | after warm-up | best static meeting δ | its hit rate | its "
                    "wrong per request | its similar right | hit-rate ratio | most possible |"
                ),
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
        )
        out.extend(
            _row(run, outcome, best_static(run.static, outcome.max_wrong_rate))
            for outcome in run.adaptive
        )
        out.extend(
            [
                "",
                "What the entries learnt:",
                "",
                (
                    "| δ | threshold | model calls | observations | entries | observed | with "
                    f"{MIN_OBSERVATIONS}+ | most on one | certain somewhere | pooled | pool "
                    "serves from | run time |"
                ),
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
                *(_learning_row(outcome) for outcome in run.adaptive),
                "",
                *_pool_table(run),
            ]
        )
    out.append(_verdict(runs))
    out.append("")
    out.append(_why(runs))
    out.append("")
    return out
