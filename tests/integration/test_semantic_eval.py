"""The hit-quality evaluation on a small sample, so that `make eval-semantic` cannot rot."""

from __future__ import annotations

import pytest

from cassandra_llm_cache import LocalEmbeddings
from cassandra_llm_cache.eval import _report, _runner

pytestmark = pytest.mark.slow  # embeds ~100 texts with the real model


@pytest.fixture(scope="module")
def embedding():
    model = LocalEmbeddings()
    yield model
    model.close()


def test_small_run_measures_every_suite_and_writes_the_report(
    cassandra_session, cassandra_keyspace, embedding, tmp_path
):
    result = _runner.run(
        cassandra_session,
        cassandra_keyspace,
        embedding,
        limit=12,
        limit_per_kind=1,
        latency_samples=3,
    )
    suites = {probe.suite for probe in result.probes}
    assert suites == {
        "paraphrase",
        "hard-negative",
        "same-meaning",
        "holdout-hard-negative",
        "holdout-same-meaning",
    }
    paraphrases = [p for p in result.probes if p.suite == "paraphrase"]
    assert len(paraphrases) == len(result.paraphrases.queries)
    # Every pair query found its own cached prompt (the only entry of its model), scored by
    # Cassandra as a cosine.
    for probe in result.probes:
        if probe.suite != "paraphrase":
            assert len(probe.candidates) == 1
            assert 0.5 < probe.candidates[0].score <= 1.0001
    # The reversed conversion scores like a paraphrase and only the guard tells them apart.
    reversed_conversion = next(p for p in result.probes if p.kind == "reversed-conversion")
    assert reversed_conversion.candidates[0].score > 0.95
    assert not reversed_conversion.candidates[0].guard_ok
    assert result.embedding_calls > 0
    assert result.lookup_with_embedding.samples == 3
    assert result.lookup_from_memo.p50 > 0
    outcomes, _ = _report.analyse(result)
    markdown = _report.render(result, outcomes, None)
    assert "| paraphrase precision |" in markdown
    assert "## Hard negatives by kind" in markdown
    picture = tmp_path / "quality.png"
    _report.plot(outcomes, picture, default=0.955)
    assert picture.read_bytes().startswith(b"\x89PNG")
    tables = cassandra_session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
        (cassandra_keyspace,),
    )
    assert not [row for row in tables if row.table_name.startswith("semantic_eval_")]


def test_the_command_runs_in_process(
    tmp_path, capsys, cassandra_contact, cassandra_keyspace, cassandra_session
):
    from cassandra_llm_cache.cli import main

    code = main(
        [
            "eval-semantic",
            "--contact-points",
            ",".join(cassandra_contact.contact_points),
            "--port",
            str(cassandra_contact.port),
            "--keyspace",
            cassandra_keyspace,
            "--limit",
            "6",
            "--limit-per-kind",
            "1",
            "--latency-samples",
            "2",
            "--adaptive-requests",
            "30",
            "--output",
            str(tmp_path),
            "--save-results",
            str(tmp_path / "results.json"),
            "--quiet",
        ]
    )
    assert code == 0
    summary = capsys.readouterr().out
    assert "paraphrase P" in summary
    report = (tmp_path / "semantic-quality.md").read_text()
    assert report.startswith("# Semantic cache hit quality")
    assert (tmp_path / "semantic-quality.png").stat().st_size > 10_000
    # The max_wrong_rate section ran on the shipped STS traffic: 30 requests, six runs.
    section = report.split("## Error-bounded thresholds on held-out traffic")[1]
    assert "30 requests of " in section
    assert section.count("| 0.01 | 0.970 |") == 2  # its row and its learning row
    assert section.count("| 0.05 | 0.850 |") == 2
    tables = cassandra_session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
        (cassandra_keyspace,),
    )
    assert not [row for row in tables if row.table_name.startswith("semantic_eval_")]
    # The saved results render the same report without the node.
    again = tmp_path / "again"
    assert (
        main(
            [
                "eval-semantic",
                "--from-results",
                str(tmp_path / "results.json"),
                "--output",
                str(again),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[:3] == summary.splitlines()[:3]
    assert (again / "semantic-quality.md").read_text().split("## Data")[1] == report.split(
        "## Data"
    )[1]
