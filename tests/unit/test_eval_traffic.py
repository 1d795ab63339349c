"""The traffic of the ``max_wrong_rate`` section (pure): drawn the same every time, Zipf-skewed, and
static thresholds replayed on a hand-made recording."""

from __future__ import annotations

from collections import Counter

from cassandra_llm_cache._semantic.adaptive import same_answer
from cassandra_llm_cache.eval._adaptive_report import adaptive_section
from cassandra_llm_cache.eval._adaptive_sim import AdaptiveOutcome, AdaptiveRun, class_answer
from cassandra_llm_cache.eval._metrics import Candidate
from cassandra_llm_cache.eval._public import LabelledPair, same_question_classes
from cassandra_llm_cache.eval._traffic import (
    STATIC_GRID,
    TrafficRecording,
    best_static,
    draw,
    replay_static,
    zipf_weights,
)


def pairs(classes: int = 200) -> list[LabelledPair]:
    """``classes`` question classes of two wordings each, and a non-duplicate between two."""
    made = [
        LabelledPair(f"question {i} asked", f"question {i} reworded", same=True)
        for i in range(classes)
    ]
    made.append(LabelledPair("question 0 asked", "question 1 asked", same=False))
    return made


def test_the_same_traffic_is_drawn_every_time_and_differs_by_data_set():
    first = draw("set-a", pairs(), requests=500)
    assert draw("set-a", pairs(), requests=500) == first
    assert draw("set-b", pairs(), requests=500).requests != first.requests
    assert len(first.requests) == 500
    assert first.classes == 200
    assert first.half_questions == 400


def test_default_count_is_three_requests_per_distinct_question():
    traffic = draw("set-a", pairs(50))
    assert len(traffic.requests) == 3 * 100


def test_requests_are_zipf_skewed_over_classes_and_ask_every_wording():
    traffic = draw("set-a", pairs(), requests=20_000)
    per_class = Counter(traffic.questions[asked] for asked in traffic.requests)
    counts = sorted(per_class.values(), reverse=True)
    # Zipf with s = 1 over 200 ranks: the first takes 1/H(200) ~ 17% of requests, the second
    # half of that; the rarest are asked a few times at most.
    assert 0.15 < counts[0] / 20_000 < 0.19
    assert 0.4 < counts[1] / counts[0] < 0.6
    assert counts[-1] < 20
    # Every class asked often enough is asked in both its wordings, about equally.
    top = max(per_class, key=per_class.__getitem__)
    wordings = Counter(
        traffic.texts[asked] for asked in traffic.requests if traffic.questions[asked] == top
    )
    assert len(wordings) == 2
    low, high = sorted(wordings.values())
    assert low / high > 0.8


def test_question_classes_follow_the_same_labels():
    traffic = draw("set-a", pairs(), requests=2000)
    roots = same_question_classes(pairs())
    for number, text in enumerate(traffic.texts):
        for other, other_text in enumerate(traffic.texts):
            same = roots[text] == roots[other_text]
            assert (traffic.questions[number] == traffic.questions[other]) == same


def test_zipf_weights_are_cumulative():
    assert zipf_weights(3) == [1.0, 1.5, 1.5 + 1 / 3]


def recording() -> TrafficRecording:
    """Question 0 (class 0), then 1 (class 0) at 0.962, 2 (class 1) at 0.902 / 0.864, then 0."""
    return TrafficRecording(
        questions=(0, 0, 1),
        requests=(0, 1, 2, 0),
        candidates=(
            (),
            (Candidate("0", 0.962, guard_ok=True),),
            (Candidate("0", 0.902, guard_ok=True), Candidate("1", 0.864, guard_ok=True)),
            (Candidate("1", 0.962, guard_ok=True), Candidate("2", 0.902, guard_ok=True)),
        ),
    )


def test_static_replay_counts_exact_right_and_wrong_hits():
    low = replay_static(recording(), 0.90, candidates=4)
    # 1 answered by 0 (right), 2 answered by 0 (wrong), the repeat of 0 by key.
    assert (low.right, low.wrong, low.exact, low.requests) == (2, 1, 1, 4)
    middle = replay_static(recording(), 0.95, candidates=4)
    assert (middle.right, middle.wrong, middle.exact) == (2, 0, 1)
    high = replay_static(recording(), 0.97, candidates=4)
    assert (high.right, high.wrong, high.exact) == (1, 0, 1)
    guarded = TrafficRecording(
        (0, 0, 1),
        (0, 2),
        ((), (Candidate("0", 0.99, guard_ok=False),)),
    )
    assert replay_static(guarded, 0.90, candidates=4).wrong == 0
    assert replay_static(guarded, 0.90, candidates=4, guard=False).wrong == 1


def test_best_static_takes_the_most_hits_within_the_bound_in_hindsight():
    outcomes = [replay_static(recording(), t, candidates=4) for t in STATIC_GRID]
    assert best_static(outcomes, 0.25).threshold == 0.90  # 3 hits, 1 wrong of 4 requests
    assert best_static(outcomes, 0.2).threshold == 0.96  # 2 hits: the highest such threshold
    assert best_static([], 0.2) is None


def test_class_answers_are_judged_the_same_only_within_a_class():
    answers = [class_answer("quora", i) for i in range(300)]
    assert len(set(answers)) == 300
    assert same_answer(answers[7], class_answer("quora", 7))
    assert not any(same_answer(answers[0], other) for other in answers[1:])


def outcome(delta: float, hits: int, wrong: int, checks_after: int) -> AdaptiveOutcome:
    return AdaptiveOutcome(
        max_wrong_rate=delta,
        floor=0.97,
        requests=100,
        right=hits - wrong,
        wrong=wrong,
        exact=hits - wrong,
        checks=checks_after,
        warmup=20,
        checks_after_warmup=checks_after,
        model_calls=100 - hits + checks_after,
        observations=3,
        judged_wrong=1,
        entries=40,
        observed_entries=2,
        entries_with_min_observations=0,
        most_observations=2,
        certain_entries=0,
        pooled_observations=3,
        pooled_from=None,
        pooled_bands=((95, 1, 1), (96, 12, 3)),
        seconds=1.0,
    )


def test_the_section_states_each_run_against_its_best_static_threshold():
    static = tuple(replay_static(recording(), t, candidates=4) for t in STATIC_GRID)
    run = AdaptiveRun("tiny", 4, 3, 2, 2, 3, 3, static, (outcome(0.25, 3, 1, 8),))
    text = "\n".join(adaptive_section([run]))
    # 3 hits against the best static's 3 (0.900): a ratio of 1.00; 8 checks in 80 requests.
    assert "| 0.25 | 0.970 | 3.0% (1 similar) | 1.00% | 0.0% | 8.00% | 10.00% | 0.900 |" in text
    assert text.count("| 1.00 |") == 1
    # No cache can answer the first request of either class: 2 of 4 right at most, plus one
    # wrong hit within δ = 0.25; 3 hits over the best static's 3.
    assert "At most 2 requests (50.0%) can be answered right by any cache" in text
    assert "| 0.900 | 75.0% (2 similar) | 25.00% | 50.0% | 1.00 | 1.00 |" in text
    # The pool, band by band, and why it never vouched.
    assert "| band from | 0.95 | 0.96 |\n|---|---|---|\n| observations | 1 | 12 |" in text
    assert "| wrong | 100% | 25% |" in text
    assert "The pool never vouched: in the bands with at least 10 observations" in text
    assert "| 0 | 3 | never | 1 s |" in text  # certain nowhere; 3 pooled, the pool never served
    # Every row of the comparison has as many cells as its header.
    header = next(line for line in text.splitlines() if line.startswith("| δ | threshold | hit"))
    table = text.split(header)[1].split("\n\n")[0].splitlines()[2:]
    assert table
    assert {line.count("|") for line in table} == {header.count("|")}
    assert "stayed within δ in 1;" in text
    assert adaptive_section([]) == []
