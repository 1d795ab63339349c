"""A langchain_community CassandraSemanticCache table migrates into this package's semantic layout.

The legacy table is written by the real class (through cassio) with deterministic embeddings;
`migrate` copies it; this package's CassandraSemanticCache then answers the same prompt and
model string with the same generations, and a similar prompt by vector search. Vectors of the
target's length are reused as stored; others are embedded again. Unreadable rows are counted and
skipped, and the source is never changed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from typing import TYPE_CHECKING, Any

import pytest
from cli_helpers import cli_env, run_main
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraSemanticCache
from cassandra_llm_cache.testing import (
    DeterministicEmbeddings,
    basis_vector,
    unique_table_name,
    unit_vector_with_cosine,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.cache import CassandraSemanticCache as LegacySemanticCache

DIM = 16
LLM = "llm-A"
QUESTION = "How long should I boil an egg?"
SIMILAR = "How long do I boil an egg?"
CHAT_PROMPT = dumps(
    [SystemMessage(content="Be brief."), HumanMessage(content="Which colour is the sky?")]
)
CHAT_ANSWER = [
    ChatGeneration(
        message=AIMessage(
            content="Blue.",
            usage_metadata={"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
        ),
        generation_info={"finish_reason": "stop"},
    )
]
# A generator for the re-embedding runs, importable by the CLI (`--embedding module:factory`):
# DeterministicEmbeddings() embeds every text to a fixed vector of 16 numbers.
FACTORY = "cassandra_llm_cache.testing:DeterministicEmbeddings"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def embeddings(dimension: int) -> DeterministicEmbeddings:
    """QUESTION on axis 0, SIMILAR at cosine 0.98 from it."""
    emb = DeterministicEmbeddings(dimension)
    emb.set(QUESTION, basis_vector(dimension, 0))
    emb.set(SIMILAR, unit_vector_with_cosine(0.98, dimension))
    return emb


@pytest.fixture
def targets(cassandra_session, cassandra_keyspace) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        cassandra_session.execute(f"DROP TABLE IF EXISTS {cassandra_keyspace}.{name}", timeout=60)


def new_target(targets: list[str]) -> str:
    targets.append(unique_table_name("migrated_sem"))
    return targets[-1]


def write_legacy(session, keyspace, table, dimension: int) -> LegacySemanticCache:
    """The legacy class's own table and entries: 12 questions, a chat prompt, one with a TTL."""
    legacy = LegacySemanticCache(
        session=session, keyspace=keyspace, embedding=embeddings(dimension), table_name=table
    )
    legacy.update(QUESTION, LLM, [Generation(text="Seven minutes.", generation_info={"i": 0})])
    for i in range(10):
        legacy.update(f"unrelated question {i}", LLM, [Generation(text=f"answer {i}")])
    legacy.update(QUESTION, "llm-B", [Generation(text="Another model's answer.")])
    legacy.update(CHAT_PROMPT, LLM, CHAT_ANSWER)
    LegacySemanticCache(
        session=session,
        keyspace=keyspace,
        embedding=embeddings(dimension),
        table_name=table,
        ttl_seconds=3600,
    ).update("short-lived", LLM, [Generation(text="soon gone")])
    return legacy


def add_bad_rows(session, keyspace, table) -> None:
    """Rows the legacy class could have left behind, each unreadable in its own way."""
    insert = session.prepare(
        f"INSERT INTO {keyspace}.{table} (row_id, body_blob, vector, attributes_blob, "
        "metadata_s) VALUES (?, ?, ?, ?, ?)"
    )
    vector = basis_vector(DIM, 3)
    good_body = json.dumps([dumps(Generation(text="x"))])
    rows = [
        # a value that is not serialized generations
        (f"{md5('bad body')}-{md5(LLM)}", "not json", vector, '{"_prompt":"bad body"}'),
        # no prompt in attributes_blob
        (f"{md5('no prompt')}-{md5(LLM)}", good_body, vector, None),
        # a row_id that is not two md5 digests
        ("not-a-row-id", good_body, vector, '{"_prompt":"odd id"}'),
        # a prompt that does not match the row_id
        (f"{md5('one')}-{md5(LLM)}", good_body, vector, '{"_prompt":"another"}'),
    ]
    for row_id, body, vec, attributes in rows:
        session.execute(insert, (row_id, body, vec, attributes, {"_llm_string_hash": md5(LLM)}))


def snapshot(session, keyspace, table) -> list[Any]:
    rows = session.execute(
        f"SELECT row_id, body_blob, vector, attributes_blob, metadata_s, WRITETIME(body_blob) "
        f"FROM {keyspace}.{table}"
    ).all()
    return sorted(tuple(row) for row in rows)


def stored_vector(session, keyspace, table, column, where, value) -> list[float]:  # noqa: PLR0917
    row = session.execute(f"SELECT {column} FROM {keyspace}.{table} WHERE {where}", value).one()
    return [float(x) for x in row[0]]


@pytest.fixture
def cli(capsys, monkeypatch, cassandra_contact, cassandra_keyspace, tmp_path):
    env = cli_env(cassandra_contact, cassandra_keyspace)

    def run(*args: str):
        checkpoint = str(tmp_path / "migrate.checkpoint")
        return run_main(capsys, monkeypatch, env, "migrate", *args, "--checkpoint", checkpoint)

    return run


def test_same_dimension_reuses_the_stored_vectors(
    cassandra_session, cassandra_keyspace, table_name, targets, cli
):
    session, keyspace = cassandra_session, cassandra_keyspace
    write_legacy(session, keyspace, table_name, DIM)
    add_bad_rows(session, keyspace, table_name)
    before = snapshot(session, keyspace, table_name)
    target = new_target(targets)

    dry = cli("-t", table_name, "--to-table", target, "--dry-run", "--json", "-q")
    assert dry.code == 0, dry.err
    assert dry.json() == {
        "dry_run": True,
        "source": f"{keyspace}.{table_name}",
        "target": f"{keyspace}.{target}",
        "would_write": 13,
        "skipped": {"needs embedding": 1},
        "unreadable": 4,
        "vectors_reused": 13,
        "vectors_to_embed": 0,
    }
    assert "nothing was created or written" in dry.err
    assert (
        session.execute(
            "SELECT table_name FROM system_schema.tables "
            "WHERE keyspace_name = %s AND table_name = %s",
            (keyspace, target),
        ).one()
        is None
    )

    result = cli("-t", table_name, "--to-table", target, "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["written"] == 13
    assert report["skipped"] == {"needs embedding": 1}  # the chat prompt: see the next test
    assert report["unreadable"] == 4
    assert (report["vectors_reused"], report["vectors_embedded"]) == (13, 0)
    assert "md5 keys" in result.err
    assert "4 unreadable entries" in result.err
    assert "--embedding" in result.err
    assert QUESTION not in result.err + result.out  # counts, never prompts
    assert snapshot(session, keyspace, table_name) == before  # the source is untouched

    # The vector is the legacy one, as stored.
    legacy_vector = stored_vector(
        session, keyspace, table_name, "vector", "row_id = %s", (f"{md5(QUESTION)}-{md5(LLM)}",)
    )
    ours_vector = stored_vector(
        session, keyspace, target, "embedding",
        "namespace = '' AND llm_key = %s AND prompt_key = %s",
        (bytes.fromhex(md5(LLM)), bytes.fromhex(md5(QUESTION))),
    )  # fmt: skip
    assert ours_vector == legacy_vector

    ours = CassandraSemanticCache(session, keyspace, embeddings(DIM), target)
    exact = ours.lookup_with_score(QUESTION, LLM)
    assert exact is not None
    assert exact.exact
    assert exact.generations == [Generation(text="Seven minutes.", generation_info={"i": 0})]
    # Same ids as the legacy class's row_id (md5 of the prompt, then of the llm_string).
    assert exact.document_id == f"{md5(QUESTION)}-{md5(LLM)}"
    assert ours.lookup(QUESTION, "llm-B") == [Generation(text="Another model's answer.")]
    assert ours.lookup("short-lived", LLM) == [Generation(text="soon gone")]
    similar = ours.lookup_with_score(SIMILAR, LLM)
    assert similar is not None
    assert not similar.exact
    assert similar.generations == exact.generations
    assert similar.score == pytest.approx(0.98, abs=1e-3)
    assert ours.lookup(SIMILAR, "llm-C") is None  # another model's entries stay apart
    ttls = session.execute(f"SELECT TTL(body) FROM {keyspace}.{target}").all()
    assert sorted(ttl is not None for (ttl,) in ttls).count(True) == 1

    # The migrated table keeps working: new entries, deletes by id, all with md5 keys.
    ours.update("a new question", LLM, [Generation(text="written after migrating")])
    assert ours.lookup("a new question", LLM) == [Generation(text="written after migrating")]
    ours.delete_by_document_id(exact.document_id)
    after = ours.lookup_with_score(QUESTION, LLM)
    assert after is None or not after.exact


def test_another_dimension_is_embedded_again(
    cassandra_session, cassandra_keyspace, table_name, targets, cli
):
    session, keyspace = cassandra_session, cassandra_keyspace
    write_legacy(session, keyspace, table_name, 8)
    before = snapshot(session, keyspace, table_name)
    target = new_target(targets)

    result = cli("-t", table_name, "--to-table", target, "--embedding", FACTORY, "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert (report["written"], report["skipped"], report["unreadable"]) == (14, {}, 0)
    assert (report["vectors_reused"], report["vectors_embedded"]) == (0, 14)
    assert "16 dimensions" in result.err
    assert snapshot(session, keyspace, table_name) == before
    # Into a table of 16 dimensions, vectors of 8 cannot be reused: the embedding is needed.
    again = cli("-t", table_name, "--to-table", target)
    assert again.code == 1
    assert "pass --embedding" in again.err

    fresh = DeterministicEmbeddings()
    ours_vector = stored_vector(
        session, keyspace, target, "embedding",
        "namespace = '' AND llm_key = %s AND prompt_key = %s",
        (bytes.fromhex(md5(LLM)), bytes.fromhex(md5(QUESTION))),
    )  # fmt: skip
    assert ours_vector == pytest.approx(fresh.embed_query(QUESTION), abs=1e-6)
    # For a chat prompt only the last human message's text is embedded, as our cache does.
    chat_vector = stored_vector(
        session, keyspace, target, "embedding",
        "namespace = '' AND llm_key = %s AND prompt_key = %s",
        (bytes.fromhex(md5(LLM)), bytes.fromhex(md5(CHAT_PROMPT))),
    )  # fmt: skip
    assert chat_vector == pytest.approx(fresh.embed_query("Which colour is the sky?"), abs=1e-6)

    # The application's embedding: SIMILAR close to what QUESTION was embedded to.
    app = DeterministicEmbeddings()
    question = fresh.embed_query(QUESTION)
    app.set(SIMILAR, [0.98 * x for x in question])  # same direction: cosine 1
    ours = CassandraSemanticCache(session, keyspace, app, target)
    assert ours.lookup(QUESTION, LLM) == [
        Generation(text="Seven minutes.", generation_info={"i": 0})
    ]
    assert ours.lookup(CHAT_PROMPT, LLM) == CHAT_ANSWER
    similar = ours.lookup_with_score(SIMILAR, LLM)
    assert similar is not None
    assert not similar.exact
    assert similar.generations == [Generation(text="Seven minutes.", generation_info={"i": 0})]
    same_chat_other_system = dumps(
        [SystemMessage(content="Be verbose."), HumanMessage(content="Which colour is the sky?")]
    )
    assert ours.lookup(same_chat_other_system, LLM) is None  # the context must match exactly


def test_an_existing_target_must_be_an_md5_semantic_table(
    cassandra_session, cassandra_keyspace, table_name, targets, cli
):
    session, keyspace = cassandra_session, cassandra_keyspace
    write_legacy(session, keyspace, table_name, DIM)
    target = new_target(targets)
    CassandraSemanticCache(session, keyspace, embeddings(DIM), target)  # sha256 keys

    refused = cli("-t", table_name, "--to-table", target)
    assert refused.code == 1
    assert "keyed with md5" in refused.err
    assert session.execute(f"SELECT COUNT(*) FROM {keyspace}.{target}").one()[0] == 0

    legacy_layout = cli("-t", table_name, "--to-table", new_target(targets), "--layout", "legacy")
    assert legacy_layout.code == 1
    assert "semantic layout" in legacy_layout.err


def test_other_commands_point_to_migrate(  # noqa: PLR0917 - fixtures
    cassandra_session, cassandra_keyspace, table_name, capsys, monkeypatch, cassandra_contact,
    tmp_path,
):  # fmt: skip
    write_legacy(cassandra_session, cassandra_keyspace, table_name, DIM)
    env = cli_env(cassandra_contact, cassandra_keyspace)
    for command in (["export", "-o", str(tmp_path / "unused.jsonl")], ["clear", "--yes"]):
        result = run_main(capsys, monkeypatch, env, command[0], "-t", table_name, *command[1:])
        assert result.code == 1
        assert "migrate" in result.err
    stats = run_main(capsys, monkeypatch, env, "stats", "-t", table_name, "--json")
    assert stats.code == 0, stats.err
    assert stats.json()["kind"] == "legacy semantic"
    assert stats.json()["entries"] == 14
