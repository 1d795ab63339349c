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
    cpu_vs_raw = found["client CPU per sync hit vs raw point read"]
    assert cpu_vs_raw["measured"] == pytest.approx(80 / 70, abs=0.001)
    assert cpu_vs_raw["met"] is True
    assert found["sync hit p99 vs raw point read"]["measured"] == pytest.approx(1.25)
    assert found["async hits at 32 in flight vs raw bridge"]["measured"] == pytest.approx(0.8)
    assert found["async hits at 32 in flight vs raw bridge"]["met"] is False
    assert found["update throughput vs raw insert (sync)"]["measured"] == pytest.approx(0.909)
    assert found["hit p50 lower than legacy CassandraCache"]["measured"] == pytest.approx(5.0)
    cpu = found["client CPU per hit lower than legacy CassandraCache"]
    assert cpu["measured"] == pytest.approx(10.0)
    assert cpu["met"] is True


def test_async_hits_must_reach_0_85_at_32_in_flight_and_0_9_at_128():
    results = [
        _result(system, "read" if system == "raw driver" else "hit", 1.0, 2.0, ops, 50.0, mode=mode)
        for mode in ("async x32", "async x128")
        for system, ops in (("raw driver", 10_000.0), ("cassandra-llm-cache", 8_700.0))
    ]
    found = _by_name(targets(results, ["2 KB"], [32, 128]))
    at_32 = found["async hits at 32 in flight vs raw bridge"]
    at_128 = found["async hits at 128 in flight vs raw bridge"]
    assert at_32["measured"] == at_128["measured"] == pytest.approx(0.87)
    assert (at_32["limit"], at_32["met"]) == (0.85, True)
    assert (at_128["limit"], at_128["met"]) == (0.9, False)


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
    assert "| sync hit p50 vs raw point read | 2 KB | 1.10x | <= 1.1x | met |" in text
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


# -- sections measured on their own (--only) ------------------------------------------------------
from cassandra_llm_cache.bench._report_sections import (  # noqa: E402 - grouped with their tests
    markers,
    streaming_section,
    write_block,
    zipf_section,
    zipf_targets,
)

_RUN = {
    "generated": "2026-01-02 03:04 UTC",
    "revision": "abc1234+changes",
    "command": "cassandra-llm-cache bench --only streaming",
    "cassandra": "5.0.9",
    "load_average": {"before": [1.0, 1.0, 1.0], "after": [2.0, 1.0, 1.0]},
    "cores": 2,
}


def _figures(p50, p99, cpu=500.0):
    return {"ops": 50, "p50_us": p50, "p99_us": p99, "throughput": 100.0, "cpu_us_per_op": cpu}


def _streaming_part():
    rows = []
    for mode, offset in (("sync", 0.0), ("async", 10.0)):
        rows += [
            {
                "mode": mode,
                "case": "bare model",
                "ttfc": _figures(100.0 + offset, 300.0),
                "total": _figures(800.0, 1200.0),
            },
            {
                "mode": mode,
                "case": "replay (hit)",
                "ttfc": _figures(900.0, 2000.0),
                "total": _figures(1600.0, 3000.0),
            },
            {
                "mode": mode,
                "case": 'miss, coalesce="process"',
                "ttfc": _figures(700.0, 1500.0),
                "total": _figures(3000.0, 5000.0),
            },
            {"mode": mode, "case": "miss, coalesce=None", "error": "ExpectationError: boom"},
        ]
    added = [
        {
            "mode": "sync",
            "case": 'miss, coalesce="process"',
            "added_ttfc_p50_us": 600.0,
            "per_repetition_us": [590.0, 610.0],
            "aim_us": 1000.0,
            "met": True,
        },
        {
            "mode": "async",
            "case": 'miss, coalesce="process"',
            "added_ttfc_p50_us": 1500.0,
            "per_repetition_us": [1400.0, 1600.0],
            "aim_us": 1000.0,
            "met": False,
        },
    ]
    return {
        "chunks": 60,
        "answer_chars": 2048,
        "repetitions": 2,
        "ops": 50,
        "results": rows,
        "added_ttfc": added,
        "run": _RUN,
    }


def test_streaming_section_shows_first_chunk_total_ratios_and_the_aim():
    text = streaming_section({"streaming": _streaming_part()})
    assert text.startswith("## Streaming through the cache (`CachedChatModel`)")
    assert "commit abc1234 with uncommitted changes" in text
    assert "`cassandra-llm-cache bench --only streaming` on 2026-01-02 03:04 UTC" in text
    assert "medians of 2 repetitions of 50 streams per case" in text
    assert "2,048-character answer in 60 chunks" in text
    assert "| sync | bare model | 100 | 300 | 800 | 1,200 | 500 | 1.00x | 1.00x |" in text
    assert "| sync | replay (hit) | 900 | 2,000 | 1,600 | 3,000 | 500 | 9.00x | 2.00x |" in text
    assert "| async | replay (hit) | 900 | 2,000 | 1,600 | 3,000 | 500 | 8.18x | 2.00x |" in text
    assert "| sync | miss, coalesce=None | - |" in text
    assert '| sync | coalesce="process" | 600 | 590, 610 | < 1,000 us | met |' in text
    assert (
        '| async | coalesce="process" | 1,500 | 1,400, 1,600 | < 1,000 us | **not met** |' in text
    )
    assert "- Failed: async miss, coalesce=None: ExpectationError: boom" in text


def test_a_failed_streaming_run_is_reported_as_such():
    text = streaming_section({"streaming": {"failed": "OperationTimedOut: x", "run": _RUN}})
    assert "_The streaming run failed: OperationTimedOut: x._" in text


def _single(system, operation, p50):
    return {"system": system, "operation": operation, "median": _figures(p50, p50 * 3, p50)}


def _multi(system, p50, cpu, processes=2):
    return {
        "system": system,
        "processes": processes,
        "hit_ratio": 0.9012,
        "near_share": 0.95,
        "median": {**_figures(p50, p50 * 10, cpu), "throughput": 5000.0},
    }


def _zipf_part():
    near = "cassandra-llm-cache near cache"
    return {
        "keys": 100_000,
        "exponent": 1.1,
        "stored": 12_144,
        "expected_hit_ratio": 0.9,
        "processes": 2,
        "requests": 1000,
        "repetitions": 3,
        "seed": 7,
        "sync_ops": 200,
        "single": [
            _single(near, "hit", 10.0),
            _single("RedisCache", "hit", 300.0),
            _single(near, "invoke hit", 110.0),
            _single("InMemoryCache", "invoke hit", 100.0),
        ],
        "multi": [
            _multi(near, 20.0, 50.0),
            _multi("RedisCache", 300.0, 250.0),
            {"system": "legacy CassandraCache", "processes": 2, "error": "TimeoutError: x"},
        ],
        "staleness": {
            "trials": 100,
            "refresh_seconds": 1.0,
            "errors": [],
            "failed": 0,
            "median_s": 0.54,
            "p90_s": 0.95,
            "max_s": 1.07,
            "min_s": 0.02,
            "within_refresh_plus_half": 100,
            "measured": 100,
        },
        "skipped": [],
        "run": {**_RUN, "command": "cassandra-llm-cache bench --only zipf"},
    }


def test_zipf_targets_are_the_issues_ratios():
    found = _by_name(zipf_targets(_zipf_part()))
    assert found["near-cache lookup hit p50 lower than RedisCache's"]["measured"] == 30.0
    assert found["near-cache lookup hit p50 lower than RedisCache's"]["met"] is True
    assert found["near-cache hit via invoke against InMemoryCache"]["measured"] == 1.1
    assert found["Zipf p50 against RedisCache"]["measured"] == pytest.approx(0.067, abs=1e-3)
    assert found["Zipf client CPU per request against RedisCache"]["measured"] == 0.2
    assert all(target["met"] for target in found.values())
    part = _zipf_part()
    part["multi"] = []
    assert _by_name(zipf_targets(part))["Zipf p50 against RedisCache"]["met"] is None


def test_zipf_section_has_targets_tables_and_staleness():
    text = zipf_section({"zipf": _zipf_part()})
    assert text.startswith("## Zipf workload")
    assert "exponent 1.1 over 100,000 keys, seed 7" in text
    assert "the 12,144 most frequent keys are stored" in text
    assert "| near-cache lookup hit p50 lower than RedisCache's | 30.00x | >= 20.0x | met |" in text
    assert "| cassandra-llm-cache near cache | lookup hit | 10.0 | 30.0 | 10.0 |" in text
    assert (
        "| cassandra-llm-cache near cache | 2 | 90.1% | 20.0 | 200 | 50.0 | 5,000 | 95.0% |" in text
    )
    assert "| RedisCache | 2 | 90.1% | 300 | 3,000 | 250 | 5,000 | - |" in text
    assert "| legacy CassandraCache | 2 | - | - | - | - | - | TimeoutError: x |" in text
    assert "median 0.54 s, p90 0.95 s, worst 1.07 s" in text
    assert "100 within refresh + 0.5 s" in text


def test_a_section_block_goes_after_the_main_part_and_is_replaced_alone(tmp_path):
    path = tmp_path / "benchmarks.md"
    write_markdown(path, "main figures")
    path.write_text(path.read_text() + "\n## About this run\n\nProse.\n")
    write_block(path, "streaming", "first streaming")
    write_block(path, "zipf", "first zipf")
    text = path.read_text()
    begin, end = markers("streaming")
    assert text.index(END) < text.index(begin) < text.index("## About this run")
    assert text.index(end) < text.index(markers("zipf")[0]) < text.index("## About this run")
    write_block(path, "streaming", "second streaming")
    text = path.read_text()
    assert "second streaming" in text
    assert "first streaming" not in text
    assert "first zipf" in text
    assert "main figures" in text
    assert text.count(begin) == 1
    assert text.count(end) == 1
    write_markdown(path, "main again")  # a full run keeps the sections
    assert "second streaming" in path.read_text()
    assert "first zipf" in path.read_text()


def test_only_runs_the_named_sections():
    parser = build_parser()
    options = from_namespace(parser.parse_args(["--only", "streaming,zipf", "--quick"]))
    assert options.only
    assert options.sections == ("streaming", "zipf")
    assert options.runs("zipf")
    assert options.zipf_requests < BenchOptions().zipf_requests  # --quick sizes
    full = from_namespace(parser.parse_args(["--sections", "none"]))
    assert not full.only
    assert not full.runs("streaming")
    assert not from_namespace(parser.parse_args(["--systems", "raw"])).runs("streaming")
    with pytest.raises(ValueError, match="unknown sections"):
        BenchOptions(sections=("nope",))
