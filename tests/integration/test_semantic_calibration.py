"""`calibrate --store` on the real node: the threshold travels with the table to every cache."""

from __future__ import annotations

import json

import pytest
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraSemanticCache
from cassandra_llm_cache.cli import main
from cassandra_llm_cache.testing import (
    DeterministicEmbeddings,
    basis_vector,
    unit_vector_with_cosine,
)

pytestmark = pytest.mark.slow  # embeds a dozen texts with LocalEmbeddings

DIM = 16
PAIRS = [
    ("How do I reset my router?", "How can I reset my router?", True),
    ("What is the capital of France?", "Which city is the capital of France?", True),
    ("How do I bake bread?", "How do I bake sourdough bread at home?", True),
    ("How do I sort a list in Python?", "How can I sort a Python list?", True),
    ("Convert 10 miles to kilometers.", "Convert 10 kilometers to miles.", False),
    ("How do I learn French?", "How do I learn German?", False),
]


def _connection(cassandra_contact, keyspace, table):
    return [
        "--contact-points",
        ",".join(cassandra_contact.contact_points),
        "--port",
        str(cassandra_contact.port),
        "-k",
        keyspace,
        "-t",
        table,
    ]


def test_calibrate_stores_a_threshold_every_new_cache_on_the_table_uses(  # noqa: PLR0917 - fixtures
    cassandra_session, cassandra_keyspace, cassandra_contact, table_name, tmp_path, capsys
):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "\n".join(json.dumps({"cached": a, "query": b, "same": s}) for a, b, s in PAIRS),
        encoding="utf-8",
    )
    embedding = DeterministicEmbeddings(DIM)
    first = CassandraSemanticCache(cassandra_session, cassandra_keyspace, embedding, table_name)
    assert first.score_threshold == 0.85  # the legacy default: nothing stored yet
    code = main(
        [
            "calibrate",
            "--pairs",
            str(pairs),
            "--max-wrong",
            "0.2",
            "--confidence",
            "0",
            "--store",
            *_connection(cassandra_contact, cassandra_keyspace, table_name),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "chosen threshold" in out
    assert "stored in" in out
    for prompt, _, _ in PAIRS:
        assert prompt not in out  # figures only, never a prompt
    chosen = float(out.split("chosen threshold ")[1].split(":")[0])
    assert 0.5 <= chosen < 1.0

    # A cache opened afterwards uses it; an explicit score_threshold still wins. (This session's
    # driver learns of the other connection's ALTER by a schema event, a moment later: a new
    # process reads the table fresh.)
    cassandra_session.cluster.refresh_table_metadata(cassandra_keyspace, table_name)
    second = CassandraSemanticCache(cassandra_session, cassandra_keyspace, embedding, table_name)
    assert second.score_threshold == pytest.approx(chosen, abs=1e-4)
    explicit = CassandraSemanticCache(
        cassandra_session, cassandra_keyspace, embedding, table_name, score_threshold=0.99
    )
    assert explicit.score_threshold == 0.99

    # And its lookups decide with it: a candidate between the stored threshold and 1 hits, one
    # just below it misses.
    embedding.set("cached", basis_vector(DIM, 0))
    embedding.set("close", unit_vector_with_cosine(min(chosen + 0.005, 1.0), DIM))
    embedding.set("far", unit_vector_with_cosine(chosen - 0.01, DIM))
    second.update("cached", "model", [Generation(text="answer")])
    assert second.lookup("close", "model") is not None
    assert second.lookup("far", "model") is None
    assert explicit.lookup("close", "model") is None or chosen + 0.005 >= 0.99


def test_calibrate_says_so_when_no_threshold_meets_the_bound(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "\n".join(json.dumps({"cached": a, "query": b, "same": s}) for a, b, s in PAIRS),
        encoding="utf-8",
    )
    # Six pairs cannot show a wrong rate of at most 1% with 95% confidence.
    assert main(["calibrate", "--pairs", str(pairs), "--max-wrong", "0.01"]) == 1
    captured = capsys.readouterr()
    assert "default threshold" in captured.out
    assert "no threshold meets" in captured.err


def test_store_refuses_a_table_that_is_not_a_semantic_cache(  # noqa: PLR0917 - fixtures
    cassandra_session, cassandra_keyspace, cassandra_contact, table_name, tmp_path, capsys
):
    from cassandra_llm_cache import CassandraCache

    CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "\n".join(json.dumps({"cached": a, "query": b, "same": s}) for a, b, s in PAIRS),
        encoding="utf-8",
    )
    code = main(
        [
            "calibrate",
            "--pairs",
            str(pairs),
            "--max-wrong",
            "0.5",
            "--confidence",
            "0",
            "--store",
            *_connection(cassandra_contact, cassandra_keyspace, table_name),
        ]
    )
    assert code == 1
    assert "not a semantic cache table" in capsys.readouterr().err
