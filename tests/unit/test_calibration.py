"""Calibration, the stored-threshold mark, the public data split and the cache simulation (pure)."""

from __future__ import annotations

import pytest

from cassandra_llm_cache._semantic import guard
from cassandra_llm_cache._semantic.calibration import StoredThreshold, parse, with_mark
from cassandra_llm_cache.eval._calibrate import ScoredPair, choose, wilson
from cassandra_llm_cache.eval._data import multilingual_pairs
from cassandra_llm_cache.eval._metrics import Candidate
from cassandra_llm_cache.eval._public import (
    CALIBRATION,
    TEST,
    LabelledPair,
    same_question_classes,
    split,
    stream,
    sts2016,
)
from cassandra_llm_cache.eval._simulation import Recording, Step, replay


def test_wilson_bounds_hold_the_rate_and_shrink_with_trials():
    low, high = wilson(2, 100, 0.95, two_sided=True)
    assert low < 0.02 < high
    assert wilson(0, 1000, 0.95, two_sided=False)[1] < wilson(0, 100, 0.95, two_sided=False)[1]
    assert wilson(0, 0, 0.95, two_sided=False) == (0.0, 1.0)


def test_choose_takes_the_most_hits_within_the_bound_not_the_best_f1():
    # 100 right pairs at 0.99, 3 wrong at 0.95, 50 right at 0.94.
    scored = [ScoredPair(0.99, guard_ok=True, same=True)] * 100
    scored += [ScoredPair(0.95, guard_ok=True, same=False)] * 3 + [
        ScoredPair(0.94, guard_ok=True, same=True)
    ] * 50
    loose = choose(scored, max_wrong=0.05, confidence=0)
    assert loose is not None
    assert loose.threshold <= 0.94
    assert (loose.hits, loose.wrong) == (153, 3)
    strict = choose(scored, max_wrong=0.01, confidence=0)
    assert strict is not None
    assert 0.95 < strict.threshold <= 0.99
    assert (strict.hits, strict.wrong) == (100, 0)
    # With 95% confidence, 100 hits cannot show a wrong rate below 1%: no threshold.
    assert choose(scored, max_wrong=0.01) is None
    # A pair the guard rejects is never a hit.
    guarded = [ScoredPair(0.999, guard_ok=False, same=False), *scored]
    with_guard = choose(guarded, max_wrong=0.01, confidence=0)
    assert with_guard is not None
    assert (with_guard.threshold, with_guard.hits) == (strict.threshold, strict.hits)
    without_guard = choose(guarded, max_wrong=0.01, confidence=0, guard=False)
    assert without_guard is not None
    assert (without_guard.hits, without_guard.wrong) == (101, 1)  # the rejected pair counts


def test_choose_per_request_counts_every_pair():
    scored = [ScoredPair(0.99, guard_ok=True, same=True)] * 10 + [
        ScoredPair(0.98, guard_ok=True, same=False)
    ]
    scored += [ScoredPair(0.5, guard_ok=True, same=False)] * 89
    chosen = choose(scored, max_wrong=0.02, per="request", confidence=0)
    assert chosen is not None
    assert (chosen.hits, chosen.wrong, chosen.wrong_rate) == (11, 1, 0.01)


def test_the_mark_round_trips_and_replaces_an_older_one():
    comment = with_mark("cassandra-llm-cache semantic cache", StoredThreshold(0.9512, "cos", 0.02))
    assert comment.startswith("cassandra-llm-cache semantic cache [score_threshold=0.9512")
    assert parse(comment) == StoredThreshold(0.9512, "cos", 0.02)
    again = with_mark(comment, StoredThreshold(0.96, "cos"))
    assert again.count("score_threshold") == 1
    assert parse(again) == StoredThreshold(0.96, "cos")
    assert with_mark(again, None) == "cassandra-llm-cache semantic cache"
    assert parse("cassandra-llm-cache semantic cache") is None


def test_the_split_keeps_questions_apart_and_is_the_same_every_time():
    pairs = sts2016().pairs
    assert len(pairs) == 209
    halves = split(pairs)
    assert halves == split(pairs)
    assert len(halves[CALIBRATION]) + len(halves[TEST]) == len(pairs)
    texts = {name: {t for p in half for t in (p.a, p.b)} for name, half in halves.items()}
    assert not texts[CALIBRATION] & texts[TEST]
    assert min(len(h) for h in halves.values()) > 60


def test_the_replay_fills_the_cache_on_misses_and_judges_hits_by_question():
    pairs = [
        LabelledPair("q1", "q1 again", same=True),
        LabelledPair("q2", "q1", same=False),
    ]
    order = stream(pairs)
    classes = same_question_classes(pairs)
    assert classes["q1"] == classes["q1 again"] != classes["q2"]
    assert set(order) == {"q1", "q1 again", "q2"}
    # q1 (miss), q1 again (0.97 to q1: right), q2 (0.96 to q1: wrong).
    recording = Recording(
        "toy",
        "test",
        (
            Step(0, ()),
            Step(0, (Candidate("0", 0.97, guard_ok=True),)),
            Step(1, (Candidate("0", 0.96, guard_ok=True), Candidate("1", 0.95, guard_ok=True))),
        ),
    )
    at_95 = replay(recording, 0.95, guard=True, candidates=4)
    # Step 1 hit, so entry 1 never entered the cache: step 2 sees entry 0 only.
    assert (at_95.requests, at_95.right, at_95.wrong, at_95.answerable) == (3, 1, 1, 1)
    assert at_95.wrong_per_request == pytest.approx(1 / 3)
    at_965 = replay(recording, 0.965, guard=True, candidates=4)
    assert (at_965.right, at_965.wrong, at_965.recall) == (1, 0, 1.0)


@pytest.mark.parametrize("lang", ["de", "fr", "es"])
def test_the_guard_catches_numbers_units_and_name_order_in_other_languages(lang):
    pairs = [pair for pair in multilingual_pairs() if pair.lang == lang]
    kinds = {"changed-number", "reversed-conversion", "changed-unit", "entity-order"}
    for pair in pairs:
        verdict = guard.check(pair.query, pair.cached)
        if pair.same:
            assert verdict is None, pair.id
        elif pair.kind in kinds:
            assert verdict is not None, pair.id
