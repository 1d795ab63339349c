"""`schema`, `stats`, `inspect`, `delete` and `clear` against the real node.

Each command runs once as a real subprocess (the installed console script); variants run
in-process through ``cli.main`` to keep the suite fast.
"""

from __future__ import annotations

import uuid

import pytest
from cli_helpers import cli_env, run_cli, run_main
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache
from cassandra_llm_cache._values.keys import sha256_key

COMMANDS = ("schema", "stats", "inspect", "delete", "clear", "export", "import", "migrate")


@pytest.fixture
def env(cassandra_contact, cassandra_keyspace):
    return cli_env(cassandra_contact, cassandra_keyspace)


@pytest.fixture
def main(capsys, monkeypatch, env):
    """``cli.main`` in-process, with this test's connection settings."""

    def run(*args, stdin=""):
        return run_main(capsys, monkeypatch, env, *args, stdin=stdin)

    return run


@pytest.fixture
def filled(cassandra_session, cassandra_keyspace, table_name):
    """A table with 6 entries of two models in namespace "", and 2 in namespace "t2"."""
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, ttl_seconds=3600)
    for i in range(6):
        cache.update(f"prompt {i}", "model-a" if i % 2 else "model-b", [Generation(text=f"a{i}")])
    other = CassandraCache(cassandra_session, cassandra_keyspace, table_name, namespace="t2")
    other.update("prompt 0", "model-a", [Generation(text="tenant two")])
    other.update("prompt 1", "model-a", [Generation(text="tenant two, 1")])
    return cache, other


def entry_id(prompt: str, llm_string: str) -> str:
    return f"{sha256_key(prompt).hex()}-{sha256_key(llm_string).hex()}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(main, command):
    result = main(command, "--help")
    assert result.code == 0
    assert "usage: cassandra-llm-cache" in result.out


def test_usage_errors_exit_2(main):
    assert main("stats", "--no-such-flag").code == 2
    assert main("import", "-i", "x", "--ttl", "soon").code == 2
    assert main("export").code == 2  # --output is required


def test_schema_prints_the_ddl_without_a_connection(env):
    env = {**env, "CASSANDRA_CONTACT_POINTS": ""}
    result = run_cli(env, "schema", "--keyspace", "shop", "--table", "answers")
    assert result.code == 0, result.err
    assert result.out.startswith('CREATE TABLE IF NOT EXISTS "shop"."answers" (')
    assert "gc_grace_seconds = 10800" in result.out
    semantic = run_cli(env, "schema", "-k", "shop", "--semantic", "--dimension", "384", "--json")
    assert semantic.code == 0, semantic.err
    statements = semantic.json()["statements"]
    assert "vector<float, 384>" in statements[0]
    assert any("StorageAttachedIndex" in s for s in statements)


def test_schema_semantic_needs_a_dimension(main):
    result = main("schema", "-k", "shop", "--semantic")
    assert result.code == 1
    assert "--dimension" in result.err


def test_stats_counts_entries_and_shows_options_and_ttls(env, filled, table_name):
    result = run_cli(env, "stats", "--table", table_name, "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["kind"] == "exact"
    assert report["key_hash"] == "sha256"
    assert report["entries"] == 8
    assert report["entries_counted"] is True
    assert report["options"]["gc_grace_seconds"] == 10800
    assert report["ttl_sample"]["sampled"] == 8
    assert report["ttl_sample"]["with_ttl"] == 6
    assert 3500 < report["ttl_sample"]["max_seconds"] <= 3600


def test_stats_human_output(main, filled, table_name):
    result = main("stats", "-t", table_name)
    assert result.code == 0, result.err
    assert "entries      8 (counted" in result.out
    assert "gc_grace_seconds = 10800" in result.out


def test_stats_of_a_missing_table_fails_clearly(main):
    result = main("stats", "-t", "no_such_table_here")
    assert result.code == 1
    assert "does not exist" in result.err


def test_no_cluster_configured_is_a_clear_failure(capsys, monkeypatch, env):
    monkeypatch.delenv("CASSANDRA_CONTACT_POINTS", raising=False)
    from cassandra_llm_cache import cli

    assert cli.main(["stats", "-k", "ks"]) == 1
    assert "no cluster" in capsys.readouterr().err


def test_inspect_by_prompt_and_by_id(env, filled, table_name, main):
    result = run_cli(
        env, "inspect", "-t", table_name, "--prompt", "prompt 3", "--llm-string", "model-a"
    )
    assert result.code == 0, result.err
    assert f"id           {entry_id('prompt 3', 'model-a')}" in result.out
    assert '"text": "a3"' in result.out
    assert "expires" in result.out
    by_id = main(
        "inspect", "-t", table_name, "--json", "-n", "t2",
        "--id", entry_id("prompt 0", "model-a"),
    )  # fmt: skip
    assert by_id.code == 0, by_id.err
    record = by_id.json()
    assert record["namespace"] == "t2"
    assert record["value"] == [{"_": "Generation", "text": "tenant two"}]
    assert record["expires_at"] is None


def test_inspect_a_missing_entry_exits_1(main, filled, table_name):
    result = main(
        "inspect", "-t", table_name,
        "--prompt", "never asked", "--llm-string", "model-a",
    )  # fmt: skip
    assert result.code == 1
    assert "no entry" in result.err
    bad = main("inspect", "-t", table_name, "--id", "abc-def")
    assert bad.code == 1
    assert "--id must be" in bad.err


def test_inspect_reads_the_prompt_from_a_file(main, filled, table_name, tmp_path):
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("prompt 4", encoding="utf-8")
    result = main(
        "inspect", "-t", table_name,
        "--prompt-file", str(prompt_file), "--llm-string", "model-b", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json()["value"][0]["text"] == "a4"


def test_delete_one_entry(env, filled, table_name, main):
    cache, _ = filled
    result = run_cli(
        env, "delete", "-t", table_name, "--prompt", "prompt 2", "--llm-string", "model-b",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json() == {"deleted": True}
    assert cache.lookup("prompt 2", "model-b") is None
    assert cache.lookup("prompt 4", "model-b") is not None
    again = main(
        "delete", "-t", table_name,
        "--id", entry_id("prompt 2", "model-b"),
    )  # fmt: skip
    assert again.code == 0
    assert "nothing deleted" in again.out


def test_clear_asks_first_and_does_nothing_when_refused(env, filled, table_name):
    cache, _ = filled
    result = run_cli(env, "clear", "-t", table_name, stdin="n\n")
    assert result.code == 1
    assert "[y/N]" in result.err
    assert "nothing deleted" in result.err
    assert cache.lookup("prompt 1", "model-a") is not None
    confirmed = run_cli(env, "clear", "-t", table_name, stdin="y\n")
    assert confirmed.code == 0, confirmed.err
    assert cache.lookup("prompt 1", "model-a") is None


def test_clear_one_model_or_one_namespace(main, filled, table_name):
    cache, other = filled
    result = main("clear", "-t", table_name, "--llm-string", "model-a", "--yes")
    assert result.code == 0, result.err
    assert cache.lookup("prompt 1", "model-a") is None
    assert cache.lookup("prompt 2", "model-b") is not None
    assert other.lookup("prompt 0", "model-a") is not None  # another namespace: untouched
    result = main("clear", "-t", table_name, "-n", "t2", "-y")
    assert result.code == 0, result.err
    assert other.lookup("prompt 0", "model-a") is None
    assert cache.lookup("prompt 2", "model-b") is not None


def test_stats_inspect_and_clear_of_a_semantic_table(
    main, cassandra_session, cassandra_keyspace, table_name
):
    from cassandra_llm_cache import CassandraSemanticCache
    from cassandra_llm_cache.testing import DeterministicEmbeddings

    semantic = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        DeterministicEmbeddings(dimension=8),
        table_name,
        embedding_dimension=8,
        namespace="tenant",
    )
    semantic.update("what is SAI", "m", [Generation(text="Storage-attached indexing.")])
    report = main("stats", "-t", table_name, "--json")
    assert report.code == 0, report.err
    assert report.json()["kind"] == "semantic"
    assert report.json()["entries"] == 1
    entry = semantic.document_id("what is SAI", "m")
    shown = main("inspect", "-t", table_name, "-n", "tenant", "--id", entry, "--json")
    assert shown.code == 0, shown.err
    assert len(shown.json()["embedding"]) == 8
    cleared = main("clear", "-t", table_name, "-n", "tenant", "--yes")
    assert cleared.code == 0, cleared.err
    assert semantic.lookup("what is SAI", "m") is None


def test_schema_of_a_semantic_cache_with_max_wrong_rate(main):
    result = main(
        "schema", "-k", "shop", "--semantic", "--dimension", "8", "--max-wrong-rate", "0.02"
    )
    assert result.code == 0, result.err
    assert 'CREATE TABLE IF NOT EXISTS "shop"."langchain_llm_semantic_cache_observations"' in (
        result.out
    )
    assert "default_time_to_live = 2592000" in result.out
    plain = main("schema", "-k", "shop", "--semantic", "--dimension", "8")
    assert "_observations" not in plain.out
    assert main("schema", "-k", "shop", "--max-wrong-rate", "0.02").code == 1  # not --semantic
    refused = main(
        "schema", "-k", "shop", "--semantic", "--dimension", "8", "--max-wrong-rate", "1"
    )
    assert refused.code == 1
    assert "max_wrong_rate" in refused.err


def test_delete_and_clear_take_a_semantic_entrys_observations(
    main, cassandra_session, cassandra_keyspace
):
    from cassandra_llm_cache import CassandraSemanticCache
    from cassandra_llm_cache.testing import DeterministicEmbeddings

    table = f"cli_obs_{uuid.uuid4().hex[:12]}"
    semantic = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        DeterministicEmbeddings(dimension=8),
        table,
        embedding_dimension=8,
        namespace="tenant",
        max_wrong_rate=0.05,
    )
    ids = []
    for question in ("what is SAI", "what is a keyspace"):
        semantic.update(question, "m", [Generation(text="An answer.")])
        ids.append(semantic.document_id(question, "m"))
        for _ in range(3):
            semantic.observe(ids[-1], 0.9, right=True)

    def observations() -> int:
        query = f"SELECT COUNT(*) FROM {cassandra_keyspace}.{table}_observations"
        return cassandra_session.execute(query).one()[0]

    assert observations() == 6 + 6  # each entry's three, and all six in the model's pool
    deleted = main("delete", "-t", table, "-n", "tenant", "--id", ids[0], "--json")
    assert deleted.code == 0, deleted.err
    assert deleted.json() == {"deleted": True}
    assert observations() == 3 + 6  # the pool is about the model: it stays
    cleared = main("clear", "-t", table, "-n", "tenant", "--yes")
    assert cleared.code == 0, cleared.err
    assert observations() == 0
