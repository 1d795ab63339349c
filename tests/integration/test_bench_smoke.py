"""The benchmark runs end to end on the real node and produces numbers (never checks speed)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from cassandra_llm_cache.bench import main

pytestmark = pytest.mark.bench


def test_tiny_benchmark_run_writes_report_with_numbers(cassandra_contact, tmp_path, capsys):
    systems = ["raw", "ours", "memory", "e2e"]
    if importlib.util.find_spec("cassio") is not None:
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
    ]  # fmt: skip

    assert main(argv) == 0

    document = json.loads((tmp_path / "benchmarks.json").read_text())
    assert document["failures"] == []
    measured = {(r["system"], r["operation"], r["mode"]) for r in document["results"]}
    assert ("raw driver", "read", "sync") in measured
    assert ("raw driver", "read", "async x4") in measured
    assert ("raw driver", "insert", "async x4") in measured
    assert ("InMemoryCache", "hit", "sync") in measured
    assert ("InMemoryCache", "invoke hit", "sync") in measured
    assert ("no cache", "ainvoke", "async x1") in measured
    if "legacy" in systems:
        assert ("legacy CassandraCache", "hit", "sync") in measured
    for result in document["results"]:
        median = result["median"]
        assert median["ops"] > 0
        assert median["p50_us"] > 0
        assert median["p99_us"] >= median["p50_us"]
        assert median["throughput"] > 0
        assert median["cpu_us_per_op"] >= 0
    assert document["node"]["release_version"].startswith("5.")
    assert document["targets"], "every target is listed, measured or not"

    report = (tmp_path / "benchmarks.md").read_text()
    assert "<!-- bench:begin" in report
    assert "<!-- bench:end -->" in report
    assert "## Targets" in report
    assert "raw driver" in report
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "benchmarks.png").read_bytes().startswith(b"\x89PNG")
    assert "sync hit p50 vs raw point read" in capsys.readouterr().err
