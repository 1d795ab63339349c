"""A table written by the real langchain_community CassandraCache migrates, is served, rolls back.

`migrate` runs as a real subprocess. The new table keeps the legacy md5 keys (marked in its
comment), so every migrated entry is a hit for this package's cache; rolling back writes the
legacy layout again, which the old class reads.
"""

from __future__ import annotations

import warnings

import pytest
from cli_helpers import cli_env, run_cli, run_main
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraCache, SetupMode
from cassandra_llm_cache.testing import unique_table_name

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.cache import CassandraCache as LegacyCassandraCache

CHAT = [
    ChatGeneration(
        message=AIMessage(
            content="Calling a tool.",
            tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "call-1"}],
            usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        ),
        generation_info={"finish_reason": "tool_calls"},
    )
]


def legacy(session, keyspace, table, **options):
    return LegacyCassandraCache(session=session, keyspace=keyspace, table_name=table, **options)


def legacy_lookup(cache, prompt, llm_string):
    # The old class calls langchain_core.load.loads without allowed_objects, which warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cache.lookup(prompt, llm_string)


def drop(session, keyspace, *tables):
    for table in tables:
        session.execute(f"DROP TABLE IF EXISTS {keyspace}.{table}", timeout=60)


@pytest.fixture
def tables(cassandra_session, cassandra_keyspace, table_name):
    names = (table_name, unique_table_name("migrated"), unique_table_name("rolled_back"))
    yield names
    drop(cassandra_session, cassandra_keyspace, *names[1:])


def test_a_legacy_table_migrates_is_served_and_rolls_back(
    cassandra_session, cassandra_keyspace, cassandra_contact, tables, tmp_path
):
    source, migrated, rolled_back = tables
    old = legacy(cassandra_session, cassandra_keyspace, source)
    llm = FakeListLLM(responses=["cached for invoke", "the model ran again"], cache=old)
    for i in range(12):
        old.update(f"question {i}", "llm-A", [Generation(text=f"answer {i}")])
    old.update("chat", "chat-model", CHAT)
    expiring = legacy(cassandra_session, cassandra_keyspace, source, ttl_seconds=3600)
    expiring.update("short-lived", "llm-A", [Generation(text="soon gone")])
    assert llm.invoke("through an LLM") == "cached for invoke"  # LangChain keys it, old stores

    env = cli_env(cassandra_contact, cassandra_keyspace)
    result = run_cli(env, "migrate", "-t", source, "--to-table", migrated, "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.json()["written"] == 15
    assert result.json()["skipped"] == {}
    assert "created" in result.err
    assert "md5 keys" in result.err

    ours = CassandraCache(cassandra_session, cassandra_keyspace, migrated)
    assert ours.lookup("question 7", "llm-A") == [Generation(text="answer 7")]
    assert ours.lookup("chat", "chat-model") == CHAT
    assert ours.lookup("short-lived", "llm-A") == [Generation(text="soon gone")]
    ttl = cassandra_session.execute(
        f"SELECT TTL(body) FROM {cassandra_keyspace}.{migrated} LIMIT 20"
    ).all()
    assert sorted(v[0] is not None for v in ttl).count(True) == 1
    # Served through LangChain, as the old table was: the model is not called again.
    llm.cache = ours
    assert llm.invoke("through an LLM") == "cached for invoke"
    assert llm.i == 1
    # New entries in the migrated table are keyed the same way and live alongside.
    ours.update("new question", "llm-A", [Generation(text="written after migrating")])
    assert ours.lookup("new question", "llm-A") == [Generation(text="written after migrating")]

    back = run_cli(
        env, "migrate", "-t", migrated, "--to-table", rolled_back, "--layout", "legacy", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert back.code == 0, back.err
    assert back.json()["written"] == 16
    old_again = legacy(cassandra_session, cassandra_keyspace, rolled_back)
    assert legacy_lookup(old_again, "question 3", "llm-A") == [Generation(text="answer 3")]
    assert legacy_lookup(old_again, "new question", "llm-A") == [
        Generation(text="written after migrating")
    ]
    chat = legacy_lookup(old_again, "chat", "chat-model")
    assert chat[0].message.tool_calls == CHAT[0].message.tool_calls


def test_migrating_sha256_entries_to_the_legacy_layout_needs_their_text(
    capsys, monkeypatch, cassandra_session, tables, request
):
    cassandra_keyspace = request.getfixturevalue("cassandra_keyspace")
    source, _, rolled_back = tables
    CassandraCache(cassandra_session, cassandra_keyspace, source).update(
        "hashed only", "m", [Generation(text="x")]
    )
    CassandraCache(cassandra_session, cassandra_keyspace, source, store_plaintext=True).update(
        "kept in clear", "m", [Generation(text="y")]
    )
    env = cli_env(request.getfixturevalue("cassandra_contact"), cassandra_keyspace)
    checkpoint = request.getfixturevalue("tmp_path") / "rollback.checkpoint"
    result = run_main(
        capsys, monkeypatch, env,
        "migrate", "-t", source, "--to-table", rolled_back, "--layout", "legacy", "--json",
        "--checkpoint", str(checkpoint),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json()["written"] == 1
    assert result.json()["skipped"] == {"needs texts": 1}
    old = legacy(cassandra_session, cassandra_keyspace, rolled_back)
    assert legacy_lookup(old, "kept in clear", "m") == [Generation(text="y")]


def test_ours_serves_a_migrated_table_without_ddl(
    cassandra_session, cassandra_keyspace, cassandra_contact, tables, tmp_path
):
    source, migrated, _ = tables
    legacy(cassandra_session, cassandra_keyspace, source).update("q", "m", [Generation(text="old")])
    env = cli_env(cassandra_contact, cassandra_keyspace)
    assert (
        run_cli(env, "migrate", "-t", source, "--to-table", migrated, "-q", cwd=tmp_path).code == 0
    )
    off = CassandraCache(cassandra_session, cassandra_keyspace, migrated, setup_mode=SetupMode.OFF)
    assert off.lookup("q", "m") == [Generation(text="old")]
