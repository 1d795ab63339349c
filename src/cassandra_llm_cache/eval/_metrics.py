"""Hit-quality metrics of a semantic cache over recorded probes (pure).

A probe is one query sent to the cache, with the candidates the cache's vector search returned
(best first, with Cassandra's score and the guard's verdict on each) and the cached entries that
would answer it correctly. The cache's decision at any threshold, with or without the guard, is
a pure function of that record (``_similarity.first_acceptable``, the function the cache itself
uses), so one pass over the node gives the whole curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cassandra_llm_cache._semantic.similarity import first_acceptable

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


@dataclass(frozen=True)
class Candidate:
    """One row the vector search returned for a probe."""

    entry: str
    score: float
    guard_ok: bool


@dataclass(frozen=True)
class Probe:
    """One query, what the search returned, and which entries may answer it."""

    suite: str  # "paraphrase", "hard-negative" or "same-meaning"
    kind: str
    correct: frozenset[str]
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Outcome:
    """Counts for one suite at one threshold, with or without the guard."""

    suite: str
    threshold: float
    guard: bool
    queries: int
    answerable: int
    correct: int
    wrong: int

    @property
    def hits(self) -> int:
        return self.correct + self.wrong

    @property
    def precision(self) -> float | None:
        """Correct hits among all hits (None without hits)."""
        return self.correct / self.hits if self.hits else None

    @property
    def recall(self) -> float | None:
        """Correct hits among queries that have a correct answer cached."""
        return self.correct / self.answerable if self.answerable else None

    @property
    def false_hit_rate(self) -> float:
        """Wrong hits among all queries."""
        return self.wrong / self.queries if self.queries else 0.0

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)


def choose(candidates: Sequence[Candidate], threshold: float, *, guard: bool) -> Candidate | None:
    """The candidate the cache answers with at ``threshold``, as its lookup decides, or None."""
    return first_acceptable(
        candidates,
        score=lambda c: c.score,
        passes=lambda s: s >= threshold,
        accept=lambda c: c.guard_ok or not guard,
    )


def decide(probe: Probe, threshold: float, *, guard: bool) -> str | None:
    """The entry the cache answers ``probe`` with, or None for a miss."""
    chosen = choose(probe.candidates, threshold, guard=guard)
    return chosen.entry if chosen is not None else None


def outcome(probes: Sequence[Probe], suite: str, threshold: float, *, guard: bool) -> Outcome:
    """Counts over the probes of ``suite``."""
    correct = wrong = queries = answerable = 0
    for probe in probes:
        if probe.suite != suite:
            continue
        queries += 1
        answerable += bool(probe.correct)
        entry = decide(probe, threshold, guard=guard)
        if entry is None:
            continue
        if entry in probe.correct:
            correct += 1
        else:
            wrong += 1
    return Outcome(suite, threshold, guard, queries, answerable, correct, wrong)


def sweep(
    probes: Sequence[Probe], thresholds: Iterable[float], suites: Iterable[str]
) -> list[Outcome]:
    """Every suite at every threshold, without and with the guard."""
    suite_list = list(suites)
    return [
        outcome(probes, suite, threshold, guard=guard)
        for threshold in thresholds
        for guard in (False, True)
        for suite in suite_list
    ]


def by_kind(probes: Sequence[Probe], threshold: float, *, guard: bool) -> dict[str, Outcome]:
    """Per kind of hard pair (reversed-conversion, negation ...): counts at one threshold."""
    kinds = sorted({p.kind for p in probes if p.suite != "paraphrase"})
    result: dict[str, Outcome] = {}
    for kind in kinds:
        subset = [p for p in probes if p.kind == kind]
        result[kind] = outcome(subset, subset[0].suite, threshold, guard=guard)
    return result


def recommended_threshold(
    outcomes: Sequence[Outcome],
    *,
    min_precision: float,
    max_false_hit_rate: float,
) -> float | None:
    """The lowest threshold (most recall) meeting both targets with the guard on, or None.

    Targets: paraphrase precision >= ``min_precision`` and hard-negative false-hit rate <=
    ``max_false_hit_rate``. Only thresholds from which every higher one also meets them count,
    so a lucky dip in the curve is not chosen.
    """
    table: dict[float, dict[str, Outcome]] = {}
    for item in outcomes:
        if item.guard:
            table.setdefault(item.threshold, {})[item.suite] = item
    best: float | None = None
    for threshold in sorted(table, reverse=True):
        paraphrase = table[threshold].get("paraphrase")
        negatives = table[threshold].get("hard-negative")
        if paraphrase is None or negatives is None:
            continue
        precision = paraphrase.precision
        ok = (precision is None or precision >= min_precision) and (
            negatives.false_hit_rate <= max_false_hit_rate
        )
        if not ok:
            break
        best = threshold
    return best


class HitCounts:
    """The rates of a replay's counts (a mixin for the frozen dataclasses that hold them)."""

    requests: int
    right: int
    wrong: int

    @property
    def hits(self) -> int:
        return self.right + self.wrong

    @property
    def hit_rate(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def precision(self) -> float | None:
        """Right answers among served hits (None without hits)."""
        return self.right / self.hits if self.hits else None

    @property
    def wrong_per_request(self) -> float:
        return self.wrong / self.requests if self.requests else 0.0
