"""The benchmark runs end to end on the real node and produces numbers (never checks speed)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from cassandra_llm_cache.bench import main

pytestmark = pytest.mark.bench


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_tiny_benchmark_run_writes_report_with_numbers(
    cassandra_contact, cassandra_session, tmp_path, capsys
):
    systems = ["raw", "ours", "semantic", "memory", "e2e"]
    if _available("cassio"):
        systems.append("legacy")
    argv = [
        "--quick",
        "--reps", "1",
        "--sync-ops", "20",
        "--async-ops", "40",
        "--keys", "8",
        "--concurrency", "4",
        "--systems", ",".join(systems),
        "--contact-points", ",".join(cassandra_contact.contact_points),
        "--port", str(cassandra_contact.port),
        "--output-dir", str(tmp_path),
        "--profile",
        "--sections", "streaming",
    ]  # fmt: skip

    assert main(argv) == 0

    # Every table of the run was dropped before its session closed (none left behind).
    left = cassandra_session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'llm_cache_bench'"
    )
    assert [row.table_name for row in left if row.table_name.startswith("bench_")] == []
    err = capsys.readouterr().err
    assert "could not drop" not in err

    document = json.loads((tmp_path / "benchmarks.json").read_text())
    assert document["failures"] == []
    assert document["skipped"] == []
    measured = {(r["system"], r["operation"], r["mode"]) for r in document["results"]}
    expected = {
        ("raw driver", "read", "sync"),
        ("raw driver", "read", "async x4"),
        ("raw driver", "insert", "async x4"),
        ("cassandra-llm-cache", "hit", "sync"),
        ("cassandra-llm-cache", "miss", "sync"),
        ("cassandra-llm-cache", "update", "async x4"),
        ("cassandra-llm-cache", "invoke hit", "sync"),
        ("cassandra-llm-cache", "ainvoke hit", "async x1"),
        ("cassandra-llm-cache semantic", "hit (similar prompt)", "sync"),
        ("InMemoryCache", "hit", "sync"),
        ("no cache", "ainvoke", "async x1"),
    }
    if "legacy" in systems:
        expected.add(("legacy CassandraCache", "hit", "sync"))
    assert expected <= measured
    for result in document["results"]:
        median = result["median"]
        assert median["ops"] > 0
        assert median["p50_us"] > 0
        assert median["p99_us"] >= median["p50_us"]
        assert median["throughput"] > 0
        assert median["cpu_us_per_op"] >= 0
    assert all(document["fidelity"][system]["2 KB"] for system in document["fidelity"])
    assert document["node"]["release_version"].startswith("5.")
    ratios = {t["target"]: t for t in document["targets"]}
    assert ratios["sync hit p50 vs raw point read"]["measured"] > 0
    assert ratios["hit p50 lower than legacy CassandraCache"]["measured"] is not None or (
        "legacy" not in systems
    )

    tails = {(row["system"], row["operation"]): row for row in document["tails"]}
    assert set(tails) == {("raw driver", "read"), ("cassandra-llm-cache", "hit")}
    for row in tails.values():
        assert row["ops"] == 4 * 20  # four alternating rounds of the sync operation count
        assert 0 < row["p50_us"] <= row["p99_us"]
        assert row["slow_ops"] == 1
        assert 0.0 <= row["slow_gc_share"] <= 1.0
    ours = tails[("cassandra-llm-cache", "hit")]
    assert 0 < ours["database_p50_us"] <= ours["database_p99_us"]

    report = (tmp_path / "benchmarks.md").read_text()
    assert "<!-- bench:begin" in report
    assert "<!-- bench:end -->" in report
    assert "## Targets" in report
    assert "## Where the slowest sync operations go" in report
    assert "| cassandra-llm-cache | hit |" in report
    if _available("matplotlib"):
        assert (tmp_path / "benchmarks.png").read_bytes().startswith(b"\x89PNG")
    assert "sync hit p50 vs raw point read" in err

    _check_streaming(document, report)


def _check_streaming(document, report):
    """The streaming section runs with the rest and gets its own block after the main part."""
    streaming = document["streaming"]
    cases = {(row["mode"], row["case"]): row for row in streaming["results"]}
    assert len(cases) == 8
    for row in cases.values():
        assert "error" not in row, row
        assert 0 < row["ttfc"]["p50_us"] <= row["total"]["p50_us"]
    assert {row["mode"] for row in streaming["added_ttfc"]} == {"sync", "async"}
    assert streaming["run"]["command"] == "cassandra-llm-cache bench --quick"
    assert report.index("<!-- bench:end -->") < report.index("<!-- bench:streaming:begin")
    assert "| sync | replay (hit) |" in report
    assert "zipf" not in document


def test_only_the_named_sections_are_measured_and_rewritten(cassandra_contact, tmp_path):
    """``--only zipf`` on a report already there: its block is added, nothing else changes."""
    report = tmp_path / "benchmarks.md"
    report.write_text(
        "# Benchmarks\n\n<!-- bench:begin (kept) -->\nmain figures\n<!-- bench:end -->\n"
    )
    (tmp_path / "benchmarks.json").write_text(json.dumps({"results": ["kept"]}))
    argv = [
        "--only", "zipf",
        "--quick",
        "--reps", "1",
        "--sync-ops", "20",
        "--keys", "8",
        "--zipf-keys", "200",
        "--zipf-requests", "50",
        "--processes", "1",
        "--staleness-trials", "2",
        "--systems", "ours",
        "--contact-points", ",".join(cassandra_contact.contact_points),
        "--port", str(cassandra_contact.port),
        "--output-dir", str(tmp_path),
    ]  # fmt: skip

    assert main(argv) == 0

    document = json.loads((tmp_path / "benchmarks.json").read_text())
    assert document["results"] == ["kept"]
    assert "streaming" not in document
    zipf = document["zipf"]
    multi = {row["system"]: row for row in zipf["multi"]}
    near = multi["cassandra-llm-cache near cache"]
    assert 0 < near["hit_ratio"] <= 1
    assert multi["cassandra-llm-cache"]["median"]["p50_us"] > 0
    assert zipf["staleness"]["measured"] == 2
    assert 0 < zipf["staleness"]["median_s"] < 10  # measured, not timed: only "it ended"
    text = report.read_text()
    assert "main figures" in text
    assert text.index("<!-- bench:end -->") < text.index("<!-- bench:zipf:begin")
    assert "## Zipf workload" in text


def test_scale_run_flushes_both_tables_before_its_lookups(
    cassandra_contact, cassandra_session, tmp_path
):
    argv = [
        "--quick",
        "--reps", "1",
        "--sync-ops", "20",
        "--keys", "8",
        "--systems", "raw",
        "--sizes", "2",
        "--scale", "300",
        "--scale-baseline", "100",
        "--scale-flush-wait", "3",
        "--keep-tables",
        "--contact-points", ",".join(cassandra_contact.contact_points),
        "--port", str(cassandra_contact.port),
        "--output-dir", str(tmp_path),
    ]  # fmt: skip

    assert main(argv) == 0

    scale = json.loads((tmp_path / "benchmarks.json").read_text())["scale"]
    assert scale["baseline"]["entries"] == 100
    assert scale["large"]["entries"] == 300
    assert scale["large"]["median"]["p50_us"] > 0
    assert "memtables were flushed" in scale["note"]
    rows = cassandra_session.execute(
        "SELECT table_name, memtable_flush_period_in_ms FROM system_schema.tables "
        "WHERE keyspace_name = 'llm_cache_bench'"
    )
    tables = {row.table_name: row.memtable_flush_period_in_ms for row in rows}
    scale_tables = [name for name in tables if name.startswith("bench_scale_")]
    try:
        assert len(scale_tables) == 2
        # The periodic flush is switched off again after the wait.
        assert [tables[name] for name in scale_tables] == [0, 0]
        if cassandra_contact.local_cluster is not None:
            # Where the node's files are visible: both tables have an SSTable on disk
            # (without the flush, 100 and 300 entries stay in the memtable).
            data = cassandra_contact.local_cluster.node(1).node_dir / "data" / "data"
            for name in scale_tables:
                assert list(data.glob(f"llm_cache_bench/{name}-*/*-Data.db")), name
    finally:
        for row in cassandra_session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'llm_cache_bench'"
        ):
            if row.table_name.startswith("bench_"):
                cassandra_session.execute(f"DROP TABLE llm_cache_bench.{row.table_name}")
