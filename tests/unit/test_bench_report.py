"""Targets, ratios and the generated report section of the benchmark (pure, no database)."""

from __future__ import annotations

import pytest

from cassandra_llm_cache.bench._analysis import peer_ratios, scale_target, targets
from cassandra_llm_cache.bench._options import BenchOptions, build_parser, from_namespace
from cassandra_llm_cache.bench._payloads import chat_payload, prompt, raw_key, raw_new_key
from cassandra_llm_cache.bench._report import BEGIN, END, markdown_section, write_markdown


def _result(system, operation, p50, p99, throughput, cpu, mode="sync"):  # noqa: PLR0917 - table rows
    concurrency = 1 if mode == "sync" else int(mode.split("x")[1])
    return {
        "system": system,
        "operation": operation,
        "payload": "2 KB",
        "mode": mode,
        "concurrency": concurrency,
        "note": "",
        "median": {
            "ops": 100,
            "p50_us": p50,
            "p99_us": p99,
            "throughput": throughput,
            "cpu_us_per_op": cpu,
        },
        "spread_p50": 0.05,
    }


RESULTS = [
    _result("raw driver", "read", 200.0, 400.0, 5000.0, 70.0),
    _result("raw driver", "insert", 180.0, 380.0, 5500.0, 60.0),
    _result("raw driver", "read", 2000.0, 4000.0, 15000.0, 60.0, mode="async x32"),
    _result("raw driver", "insert", 2000.0, 4000.0, 16000.0, 55.0, mode="async x32"),
    _result("cassandra-llm-cache", "hit", 220.0, 500.0, 4500.0, 80.0),
    _result("cassandra-llm-cache", "miss", 190.0, 450.0, 5000.0, 60.0),
    _result("cassandra-llm-cache", "update", 200.0, 420.0, 5000.0, 70.0),
    _result("cassandra-llm-cache", "hit", 2200.0, 4400.0, 12000.0, 70.0, mode="async x32"),
    _result("cassandra-llm-cache", "update", 2200.0, 4400.0, 14000.0, 60.0, mode="async x32"),
    _result("legacy CassandraCache", "hit", 1100.0, 2500.0, 900.0, 800.0),
    _result("legacy CassandraCache", "miss", 400.0, 900.0, 2500.0, 200.0),
    _result("legacy CassandraCache", "update", 600.0, 1000.0, 1600.0, 300.0),
    _result("InMemoryCache", "invoke hit", 100.0, 200.0, 9000.0, 100.0),
]


def _by_name(found):
    return {target["target"]: target for target in found}


def test_targets_compute_each_ratio_and_verdict():
    found = _by_name(targets(RESULTS, ["2 KB"], [32]))
    assert found["sync hit p50 vs raw point read"]["measured"] == pytest.approx(1.1)
    assert found["sync hit p50 vs raw point read"]["met"] is True
    assert found["sync hit p99 vs raw point read"]["measured"] == pytest.approx(1.25)
    assert found["async hits at 32 in flight vs raw bridge"]["measured"] == pytest.approx(0.8)
    assert found["async hits at 32 in flight vs raw bridge"]["met"] is False
    assert found["update throughput vs raw insert (sync)"]["measured"] == pytest.approx(0.909)
    assert found["hit p50 lower than legacy CassandraCache"]["measured"] == pytest.approx(5.0)
    cpu = found["client CPU per hit lower than legacy CassandraCache"]
    assert cpu["measured"] == pytest.approx(10.0)
    assert cpu["met"] is True


def test_a_target_without_measurements_is_not_measured_rather_than_failed():
    found = targets(RESULTS[:2], ["2 KB"], [128])
    assert all(target["met"] is None for target in found)


def test_scale_target_compares_large_with_baseline():
    scale = {
        "payload": "2 KB",
        "baseline": {"entries": 10_000, "median": {"p50_us": 200.0}},
        "large": {"entries": 1_000_000, "median": {"p50_us": 230.0}},
    }
    target = scale_target(scale)
    assert target is not None
    assert target["measured"] == pytest.approx(1.15)
    assert target["met"] is True
    assert scale_target(None) is None


def test_peer_ratios_are_peer_over_ours():
    (legacy,) = peer_ratios(RESULTS, "2 KB")
    assert legacy["peer"] == "legacy CassandraCache"
    assert legacy["hit_p50"] == pytest.approx(5.0)
    assert legacy["hit_cpu"] == pytest.approx(10.0)


def _document():
    return {
        "generated": "2026-01-01 00:00 UTC",
        "options": {
            "repetitions": 3,
            "sync_ops": 100,
            "async_ops": 300,
            "keys": 10,
            "ttl_seconds": 60,
        },
        "machine": {
            "cpu": "cpu",
            "cores": 2,
            "memory_gib": 4,
            "platform": "linux",
            "python": "3.11",
            "implementation": "CPython",
        },
        "packages": {"cassandra-driver": "3.30.1"},
        "driver": {"cython": True, "compiled_cluster_module": True, "reactor": "LibevConnection"},
        "node": {"release_version": "5.0.9", "nodes": 1, "origin": "test", "settings": {}},
        "load_average": {"before": [1.0, 1.0, 1.0], "after": [1.0, 1.0, 1.0]},
        "payloads": [{"label": "2 KB", "bytes": 2060}],
        "results": RESULTS,
        "targets": targets(RESULTS, ["2 KB"], [32]),
        "skipped": [{"system": "RedisCache", "reason": "redis-server not found"}],
        "failures": [],
        "fidelity": {},
        "scale": None,
    }


def test_markdown_section_has_tables_ratios_and_notes():
    text = markdown_section(_document(), "benchmarks.png")
    assert "| sync hit p50 vs raw point read | 2 KB | 1.10x | <= 1.15x | met |" in text
    assert (
        "| cassandra-llm-cache | hit | 220 | 500 | 4,500 | 80.0 | 1.10x | 1.25x | 1.14x |" in text
    )
    assert "| legacy CassandraCache | 5.00x | 10.00x |" in text
    assert "![Hit latency and client CPU per hit](benchmarks.png)" in text
    assert "Not measured: RedisCache: redis-server not found" in text


def test_write_markdown_keeps_hand_written_prose(tmp_path):
    path = tmp_path / "benchmarks.md"
    write_markdown(path, "first run")
    assert BEGIN in path.read_text()
    path.write_text(path.read_text() + "\n## What we changed\n\nProse.\n")
    write_markdown(path, "second run")
    text = path.read_text()
    assert "second run" in text
    assert "first run" not in text
    assert "## What we changed" in text
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1


def test_payloads_have_the_requested_size_and_distinct_keys():
    small, large = chat_payload(2048), chat_payload(20480)
    assert abs(small.size - 2048) < 64
    assert abs(large.size - 20480) < 64
    assert small.label == "2 KB"
    assert large.label == "20 KB"
    assert prompt(1, "2 KB") != prompt(1, "20 KB")
    assert raw_key(5) != raw_new_key(5)
    assert len(raw_key(5, 1)) == 32


def test_quick_options_and_overrides():
    parser = build_parser()
    options = from_namespace(parser.parse_args(["--quick", "--reps", "3", "--systems", "raw,ours"]))
    assert options.quick
    assert options.sizes_kb == (2,)
    assert options.repetitions == 3
    assert options.systems == ("raw", "ours")
    with pytest.raises(ValueError, match="unknown systems"):
        BenchOptions(systems=("nope",))
    with pytest.raises(ValueError, match="identifier"):
        BenchOptions(keyspace="bad-name")


def test_scale_target_ignores_a_failed_scale_part():
    scale = {
        "payload": "2 KB",
        "baseline": {"entries": 10_000, "median": {"p50_us": 200.0}},
        "large": {"entries": 1_000_000, "error": "ExpectationError: 6 stored entries missed"},
    }
    assert scale_target(scale) is None


def _with_semantic_scale(**figures):
    """A report document whose semantic scale part filled 100,000 entries, plus ``figures``."""
    document = _document()
    fill = {"entries": 100_000, "requested": 100_000, "fill_seconds": 672.3, "failed_writes": 0}
    document["semantic_scale"] = {**fill, **figures}
    return document


def test_a_failed_semantic_measurement_keeps_the_fill_figures():
    document = _with_semantic_scale(
        entries=99_000,
        fill_seconds=693.4,
        failed_writes=2,
        note="Measuring failed after the fill: OperationTimedOut: timed out",
    )
    text = markdown_section(document, "benchmarks.png")
    assert "Fill: 99,000 of 100,000 entries in 693 s through `aupdate` (2 writes failed" in text
    assert "Measuring failed after the fill: OperationTimedOut" in text
    assert "recall@1 |" not in text


def test_the_semantic_scale_table_shows_lookup_and_recall():
    median = {"p50_us": 9000.0, "p99_us": 20000.0, "throughput": 100.0, "cpu_us_per_op": 3000.0}
    document = _with_semantic_scale(
        lookup={"median": median},
        queries=200,
        recall_at_1=0.975,
        similar_lookups={"done": 4000, "missed": 3},
    )
    text = markdown_section(document, "benchmarks.png")
    assert "| 100,000 | 9,000 | 20,000 | 100 | 3,000 | 0.975 |" in text
    assert "Similar-prompt hit rate: 0.9992 (3 of 4,000 lookups" in text


def test_recall_is_shown_when_the_timed_lookups_failed():
    document = _with_semantic_scale(
        lookup={"error": "ExpectationError: semantic scale: a similar prompt missed"},
        queries=200,
        recall_at_1=0.995,
    )
    text = markdown_section(document, "benchmarks.png")
    assert "Lookups failed: ExpectationError" in text
    assert "recall@1 of the vector search: 0.995 over 200 queries" in text
