"""Hit-quality metrics over recorded probes (pure), and the shipped evaluation data."""

from __future__ import annotations

import pytest

from cassandra_llm_cache.eval._data import hard_pairs, paraphrase_set
from cassandra_llm_cache.eval._metrics import (
    Candidate,
    Probe,
    by_kind,
    decide,
    outcome,
    recommended_threshold,
    sweep,
)


def probe(suite, correct, *candidates, kind=None):
    return Probe(suite, kind or suite, frozenset(correct), tuple(Candidate(*c) for c in candidates))


PROBES = [
    # paraphrase answered by its origin at 0.97
    probe("paraphrase", {"a"}, ("a", 0.97, True)),
    # nearest is a wrong entry the guard rejects; the right one comes second
    probe("paraphrase", {"b"}, ("x", 0.99, False), ("b", 0.96, True)),
    # origin not cached: anything is a false hit
    probe("paraphrase", set(), ("y", 0.965, True)),
    # a hard negative the guard catches, and one it does not
    probe("hard-negative", set(), ("n1", 0.995, False), kind="negation"),
    probe("hard-negative", set(), ("n2", 0.98, True), kind="swapped-entity"),
    # a control
    probe("same-meaning", {"s"}, ("s", 0.955, True)),
]


def test_decide_follows_threshold_then_guard():
    assert decide(PROBES[1], 0.95, guard=False) == "x"
    assert decide(PROBES[1], 0.95, guard=True) == "b"
    assert decide(PROBES[1], 0.995, guard=True) is None


def test_paraphrase_counts():
    off = outcome(PROBES, "paraphrase", 0.95, guard=False)
    assert (off.queries, off.answerable, off.correct, off.wrong) == (3, 2, 1, 2)
    assert off.precision == pytest.approx(1 / 3)
    assert off.recall == pytest.approx(0.5)
    assert off.false_hit_rate == pytest.approx(2 / 3)
    on = outcome(PROBES, "paraphrase", 0.95, guard=True)
    assert (on.correct, on.wrong) == (2, 1)
    assert on.f1 == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_rates_without_hits_or_answers():
    high = outcome(PROBES, "paraphrase", 0.999, guard=True)
    assert high.precision is None
    assert high.recall == 0.0
    assert high.f1 is None
    assert outcome(PROBES, "nothing", 0.9, guard=True).false_hit_rate == 0.0


def test_hard_negatives_by_kind():
    kinds = by_kind(PROBES, 0.95, guard=True)
    assert kinds["negation"].false_hit_rate == 0.0
    assert kinds["swapped-entity"].false_hit_rate == 1.0
    assert kinds["same-meaning"].recall == 1.0


def test_recommended_threshold_is_the_lowest_that_holds_from_there_up():
    probes = [
        probe("paraphrase", {"a"}, ("a", 0.97, True)),
        probe("paraphrase", set(), ("z", 0.93, True)),
        probe("hard-negative", set(), ("n", 0.96, True)),
    ]
    grid = [0.90, 0.92, 0.94, 0.96, 0.98]
    outcomes = sweep(probes, grid, ["paraphrase", "hard-negative"])
    # 0.96 still answers the negative; 0.98 is the first point meeting both targets.
    assert recommended_threshold(outcomes, min_precision=0.9, max_false_hit_rate=0.05) == 0.98
    assert recommended_threshold(outcomes, min_precision=0.4, max_false_hit_rate=1.0) == 0.90


def test_shipped_data_is_complete_and_consistent():
    paraphrases = paraphrase_set()
    assert paraphrases.pairs > 950
    assert 0.4 < len(paraphrases.cached) / paraphrases.pairs < 0.6
    assert paraphrase_set() == paraphrases  # the split is fixed
    pairs = hard_pairs()
    negatives = [p for p in pairs if not p.same]
    assert len(negatives) >= 300
    assert len({p.id for p in pairs}) == len(pairs)
    assert {p.split for p in pairs} == {"dev", "holdout"}
    assert all(p.cached != p.query for p in pairs)
    limited = hard_pairs(limit_per_kind=2)
    assert {(p.split, p.kind) for p in limited} == {(p.split, p.kind) for p in pairs}
    assert paraphrase_set(10).pairs == 10
