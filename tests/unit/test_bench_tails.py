"""The tail attribution of the benchmark: which slow operations overlapped a garbage collection."""

from __future__ import annotations

import gc

import pytest

from cassandra_llm_cache.bench._report import markdown_section
from cassandra_llm_cache.bench._tails import (
    GcPause,
    Span,
    TailSubject,
    attribute,
    measure,
    recorded_gc,
)


def _spans(lengths, gap=1_000):
    spans, at = [], 0
    for length in lengths:
        spans.append(Span(at, at + length))
        at += length + gap
    return spans


def test_attribute_finds_the_slow_operations_a_collection_ran_in():
    # 198 fast operations of 100 us, two slow ones of 5 ms; a collection of 4 ms inside the
    # first slow one, another during a fast one.
    lengths = [100_000] * 100 + [5_000_000] + [100_000] * 98 + [5_000_000]
    spans = _spans(lengths)
    first_slow = spans[100]
    pauses = [
        GcPause(spans[3].start + 10, spans[3].start + 50_010, 0),
        GcPause(first_slow.start + 500_000, first_slow.start + 4_500_000, 2),
    ]

    found = attribute(spans, pauses)

    assert found["ops"] == 200
    assert found["p50_us"] == 100.0
    assert found["p99_us"] == 5000.0
    assert found["slow_ops"] == 2
    assert found["slow_with_gc"] == 1
    assert found["slow_gc_share"] == pytest.approx(4 / 10)
    assert found["collections"] == {
        "0": {"count": 1, "median_us": 50.0},
        "2": {"count": 1, "median_us": 4000.0},
    }


def test_a_collection_reaching_into_an_operation_counts_only_its_overlap():
    spans = _spans([1_000_000])
    pauses = [GcPause(spans[0].start - 300_000, spans[0].start + 200_000, 1)]
    found = attribute(spans, pauses)
    assert found["slow_with_gc"] == 1
    assert found["slow_gc_share"] == pytest.approx(0.2)


def test_attribute_without_collections_or_operations():
    found = attribute(_spans([10, 20, 30]), [])
    assert (found["slow_with_gc"], found["slow_gc_share"], found["collections"]) == (0, 0.0, {})
    with pytest.raises(ValueError, match="no operations"):
        attribute([], [])


def test_recorded_gc_sees_a_collection_and_unhooks_itself():
    hooks = len(gc.callbacks)
    with recorded_gc() as pauses:
        gc.collect(1)
    assert [pause.generation for pause in pauses] == [1]
    assert pauses[0].end >= pauses[0].start
    assert len(gc.callbacks) == hooks


def test_measure_keeps_each_subject_apart_and_reports_one_that_fails():
    seen: list[int] = []

    def broken(index):
        raise RuntimeError("no such table")

    rows = measure(
        [
            TailSubject("raw driver", "read", "2 KB", seen.append),
            TailSubject("cassandra-llm-cache", "hit", "2 KB", broken),
        ],
        rounds=3,
        ops=50,
    )

    assert seen == list(range(150))  # every round ran, with fresh indices
    assert rows[0]["ops"] == 150
    assert rows[0]["slow_ops"] == 2
    assert "database_p99_us" not in rows[0]
    assert rows[1]["error"] == "RuntimeError: no such table"


def test_report_shows_the_tail_attribution():
    row = {
        "system": "cassandra-llm-cache",
        "operation": "hit",
        "payload": "20 KB",
        "ops": 8000,
        "p50_us": 900.0,
        "p99_us": 4200.0,
        "slow_ops": 80,
        "slow_median_us": 6100.0,
        "slow_with_gc": 12,
        "slow_gc_share": 0.25,
        "collections": {"0": {"count": 300, "median_us": 310.0}},
        "database_p50_us": 700.0,
        "database_p99_us": 4000.0,
    }
    document = {
        "generated": "now",
        "options": {"repetitions": 1, "sync_ops": 1, "async_ops": 1, "keys": 1,
                    "ttl_seconds": 1},
        "payloads": [],
        "results": [],
        "targets": [],
        "tails": [row, {"system": "raw driver", "operation": "read", "payload": "20 KB",
                        "error": "Timeout: x"}],
        "machine": {"cpu": "c", "cores": 2, "memory_gib": 1, "platform": "p", "python": "3",
                    "implementation": "CPython"},
        "node": {"release_version": "5.0", "nodes": 1, "origin": "local"},
        "packages": {},
    }  # fmt: skip

    text = markdown_section(document, None)

    assert "## Where the slowest sync operations go" in text
    assert (
        "| cassandra-llm-cache | hit | 20 KB | 8,000 | 900 | 4,200 | 700 / 4,000 | "
        "80 (median 6,100 us) | 12 | 25% | gen0 300 x 310 us |"
    ) in text
    assert "- raw driver read 20 KB: Timeout: x" in text
