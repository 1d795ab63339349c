"""The similar-prompt search's steps (pure): which query follows the window, and the results."""

from __future__ import annotations

import pytest

from cassandra_llm_cache._semantic.search import SimilarSearch, window_width

STATEMENTS = {"search_window": "WINDOW", "fetch": "FETCH", "search": "FILTERED"}
OURS, OTHER = "scope-a", "scope-b"
VECTOR = [0.6, 0.8]
KEY = ("ns", b"llm")


def search(wanted: int = 2, threshold: float = 0.9) -> SimilarSearch:
    return SimilarSearch(
        STATEMENTS,  # type: ignore[arg-type]
        VECTOR,
        key=KEY,
        scope=OURS,
        wanted=wanted,
        keeps=lambda similarity: similarity >= threshold,
    )


def test_the_window_asks_for_the_tables_nearest_keys():
    statement, values = search(wanted=2).window()
    assert statement == "WINDOW"
    assert values == (VECTOR, VECTOR, window_width(2))
    assert window_width(2) == 16
    assert window_width(10) == 40


def test_ours_above_the_threshold_are_fetched_by_key_in_window_order():
    rows = [(b"x", OTHER, 0.99), (b"b", OURS, 0.98), (b"a", OURS, 0.95), (b"c", OURS, 0.5)]
    plan = search(wanted=4)
    statement, values = plan.after_window(rows)
    assert statement == "FETCH"
    assert values == ("ns", b"llm", [b"b", b"a"])
    # The fetch answers in token order; the results keep the window's order and similarity.
    fetched = [(b"a", b"body-a", "g-a", None), (b"b", b"body-b", "g-b", None)]
    assert plan.results(fetched) == [
        (b"b", b"body-b", "g-b", None, 0.98),
        (b"a", b"body-a", "g-a", None, 0.95),
    ]


def test_no_more_candidates_than_wanted():
    rows = [(bytes([i]), OURS, 0.99 - i / 1000) for i in range(5)]
    _, values = search(wanted=2).after_window(rows)
    assert values[2] == [b"\x00", b"\x01"]


def test_an_entry_deleted_between_the_two_queries_is_left_out():
    plan = search()
    plan.after_window([(b"a", OURS, 0.97), (b"b", OURS, 0.96)])
    assert plan.results([(b"b", b"body-b", "g", None)]) == [(b"b", b"body-b", "g", None, 0.96)]


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [(b"x", OTHER, 0.99)],
        [(b"a", OURS, 0.5)],
        # A full window whose last entry is below the threshold: ours beyond it are too.
        [(bytes([i]), OTHER, 0.99) for i in range(15)] + [(b"z", OTHER, 0.2)],
    ],
)
def test_nothing_to_fetch_is_a_miss_without_another_query(rows):
    plan = search()
    assert plan.after_window(rows) is None
    assert plan.results([]) == []


def test_a_full_window_of_close_entries_of_other_scopes_falls_back_to_the_filtered_search():
    rows = [(bytes([i]), OTHER, 0.99) for i in range(15)] + [(b"a", OURS, 0.98)]
    plan = search(wanted=2)
    statement, values = plan.after_window(rows)
    assert statement == "FILTERED"
    assert values == (VECTOR, OURS, VECTOR, 2)
    filtered = [(b"a", b"body-a", "g", None, 0.98), (b"b", b"body-b", "g", None, 0.97)]
    assert plan.results(filtered) == filtered


def test_a_full_window_holding_enough_of_ours_needs_no_filter():
    rows = [(b"a", OURS, 0.99), (b"b", OURS, 0.99)] + [(bytes([i]), OTHER, 0.99) for i in range(14)]
    statement, values = search(wanted=2).after_window(rows)
    assert statement == "FETCH"
    assert values[2] == [b"a", b"b"]


def test_an_entry_without_a_similarity_is_no_candidate():
    # A row the server returns without a score is skipped, never treated as a match.
    assert search().after_window([(b"a", OURS, None)]) is None
