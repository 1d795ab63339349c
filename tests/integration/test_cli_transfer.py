"""`export` and `import` against the real node: round trips, resuming, and what is skipped."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from cli_helpers import cli_env, run_cli, run_main
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraCache
from cassandra_llm_cache._values.keys import md5_hex, sha256_key
from cassandra_llm_cache.admin import _export

if TYPE_CHECKING:
    from pathlib import Path

CHAT = ChatGeneration(
    message=AIMessage(
        content=[{"type": "text", "text": "Paris."}],
        tool_calls=[{"name": "lookup", "args": {"city": "Paris"}, "id": "c1", "type": "tool_call"}],
        usage_metadata={"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        response_metadata={"finish_reason": "stop"},
        id="run-1",
    ),
    generation_info={"logprobs": None},
)


@pytest.fixture
def env(cassandra_contact, cassandra_keyspace):
    return cli_env(cassandra_contact, cassandra_keyspace)


@dataclass
class Ctx:
    """What each test needs: the node, its table, a scratch directory and an in-process CLI."""

    env: dict
    session: object
    keyspace: str
    table: str
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    main: object

    def cache(self, **options):
        return CassandraCache(self.session, self.keyspace, self.table, **options)


@pytest.fixture
def ctx(request, capsys, monkeypatch, env, table_name):
    def main(*args, stdin=""):
        return run_main(capsys, monkeypatch, env, *args, stdin=stdin)

    return Ctx(
        env,
        request.getfixturevalue("cassandra_session"),
        request.getfixturevalue("cassandra_keyspace"),
        table_name,
        request.getfixturevalue("tmp_path"),
        monkeypatch,
        main,
    )


def lines_of(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def comparable(records):
    """Records without their write and expiry times, in a stable order."""
    ignored = {"written_at", "expires_at"}
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ignored}) for r in records)


def test_export_clear_import_gives_back_identical_entries(ctx):
    plain = ctx.cache(ttl_seconds=7200)
    texts = ctx.cache(namespace="b", store_plaintext=True)
    for i in range(20):
        plain.update(f"q{i}", "model", [Generation(text=f"answer {i}", generation_info={"i": i})])
    plain.update("chat", "chat-model", [CHAT, CHAT])
    texts.update("kept in clear", "model", [Generation(text="visible")])

    first = ctx.tmp / "backup.jsonl"
    exported = run_cli(ctx.env, "export", "-t", ctx.table, "-o", str(first), "--json")
    assert exported.code == 0, exported.err
    assert exported.json()["exported"] == 22
    assert "22 entries exported" in exported.err
    records = lines_of(first)
    assert len(records) == 22
    clear_one = next(r for r in records if r["namespace"] == "b")
    assert clear_one["prompt"] == "kept in clear"
    assert clear_one["llm_string"] == "model"
    assert clear_one["expires_at"] is None
    timed = next(r for r in records if r["prompt_key"] == sha256_key("q3").hex())
    assert 7100 < timed["expires_at"] - time.time() <= 7200

    cleared = run_cli(ctx.env, "clear", "-t", ctx.table, "--yes")
    assert cleared.code == 0, cleared.err
    assert plain.lookup("chat", "chat-model") is None

    imported = run_cli(ctx.env, "import", "-t", ctx.table, "-i", str(first), "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["written"] == 22
    assert plain.lookup("chat", "chat-model") == [CHAT, CHAT]
    assert plain.lookup("q7", "model") == [Generation(text="answer 7", generation_info={"i": 7})]
    assert texts.lookup("kept in clear", "model") == [Generation(text="visible")]

    second = ctx.tmp / "again.jsonl"
    assert run_cli(ctx.env, "export", "-t", ctx.table, "-o", str(second), "-q").code == 0
    again = lines_of(second)
    assert comparable(again) == comparable(records)
    by_key = {r["prompt_key"]: r for r in again}
    assert abs(by_key[timed["prompt_key"]]["expires_at"] - timed["expires_at"]) <= 5


def test_an_interrupted_export_resumes_where_it_stopped(ctx):
    filled = ctx.cache()
    for i in range(60):
        filled.update(f"p{i}", "m", [Generation(text=str(i))])
    output = ctx.tmp / "big.jsonl"

    finished = _export._PartFiles.finished
    calls = []

    def crash_after_five(self, token_range):
        if len(calls) == 5:
            raise KeyboardInterrupt
        calls.append(token_range.index)
        finished(self, token_range)

    ctx.monkeypatch.setattr(_export._PartFiles, "finished", crash_after_five)
    interrupted = ctx.main("export", "-t", ctx.table, "-o", str(output))
    assert interrupted.code == 130
    assert not output.exists()
    parts = ctx.tmp / "big.jsonl.parts"
    checkpoint = json.loads((parts / "checkpoint.json").read_text())
    assert sorted(checkpoint["done"]) == sorted(calls)
    ctx.monkeypatch.setattr(_export._PartFiles, "finished", finished)

    refused = ctx.main("export", "-t", ctx.table, "-o", str(output))
    assert refused.code == 1
    assert "--resume" in refused.err

    resumed = ctx.main(
        "export", "-t", ctx.table, "-o", str(output), "--resume",
        "--json",
    )  # fmt: skip
    assert resumed.code == 0, resumed.err
    assert resumed.json()["resumed_ranges"] == 5
    records = lines_of(output)
    assert sorted(r["value"][0]["text"] for r in records) == sorted(str(i) for i in range(60))
    assert not parts.exists()


def test_export_of_one_namespace(ctx):
    ctx.cache(namespace="a").update("p", "m", [Generation(text="a")])
    ctx.cache(namespace="b").update("p", "m", [Generation(text="b")])
    output = ctx.tmp / "a.jsonl"
    result = ctx.main("export", "-t", ctx.table, "-o", str(output), "-n", "a")
    assert result.code == 0, result.err
    assert [r["value"][0]["text"] for r in lines_of(output)] == ["a"]


def record_line(keyed_prompt, keyed_llm_string, text, **fields):
    line = {
        "format": "cassandra-llm-cache-entry",
        "version": 1,
        "namespace": "",
        "key_hash": "sha256",
        "llm_key": sha256_key(keyed_llm_string).hex(),
        "prompt_key": sha256_key(keyed_prompt).hex(),
        "value": [{"_": "Generation", "text": text}],
        "expires_at": None,
        "written_at": None,
        **fields,
    }
    return json.dumps(line)


def test_import_skips_what_it_cannot_write_faithfully_and_reports_bad_lines(ctx):
    source = ctx.tmp / "mixed.jsonl"
    md5_only = record_line(
        "legacy", "m", "no texts", key_hash="md5",
        llm_key=md5_hex("m"), prompt_key=md5_hex("legacy"),
    )  # fmt: skip
    md5_with_texts = record_line(
        "legacy 2", "m", "re-keyed", key_hash="md5",
        llm_key=md5_hex("m"), prompt_key=md5_hex("legacy 2"), prompt="legacy 2", llm_string="m",
    )  # fmt: skip
    source.write_text(
        "\n".join(
            [
                record_line("fresh", "m", "kept"),
                record_line("stale", "m", "expired", expires_at=int(time.time()) - 10),
                md5_only,
                "{not json",
                md5_with_texts,
                record_line("soon", "m", "expiring", expires_at=int(time.time()) + 600),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = ctx.main("import", "-t", ctx.table, "-i", str(source), "--json")
    assert result.code == 1
    assert "1 malformed line(s) were skipped (line 4)" in result.err
    report = result.json()
    assert report["written"] == 3
    assert report["skipped"] == {"expired": 1, "needs texts": 1, "malformed": 1}
    target = ctx.cache()
    assert target.lookup("fresh", "m") == [Generation(text="kept")]
    assert target.lookup("stale", "m") is None
    assert target.lookup("legacy 2", "m") == [Generation(text="re-keyed")]
    ttl = ctx.session.execute(
        f"SELECT TTL(body) FROM {ctx.keyspace}.{ctx.table} WHERE namespace = '' "
        "AND llm_key = %s AND prompt_key = %s",
        (sha256_key("m"), sha256_key("soon")),
    ).one()[0]
    assert 590 <= ttl <= 600


def test_import_options_ttl_and_namespace(ctx):
    source = ctx.tmp / "one.jsonl"
    source.write_text(record_line("p", "m", "x", expires_at=int(time.time()) - 5) + "\n")
    result = ctx.main(
        "import", "-t", ctx.table, "-i", str(source),
        "--ttl", "100", "--to-namespace", "moved",
    )  # fmt: skip
    assert result.code == 0, result.err
    moved = ctx.cache(namespace="moved")
    assert moved.lookup("p", "m") == [Generation(text="x")]
    assert ctx.cache().lookup("p", "m") is None
    ttl = ctx.session.execute(
        f"SELECT TTL(body) FROM {ctx.keyspace}.{ctx.table} WHERE namespace = 'moved' "
        "AND llm_key = %s AND prompt_key = %s",
        (sha256_key("m"), sha256_key("p")),
    ).one()[0]
    assert 90 <= ttl <= 100


def test_an_interrupted_import_resumes_after_the_acknowledged_lines(ctx):
    source = ctx.tmp / "resume.jsonl"
    source.write_text("".join(record_line(f"p{i}", "m", str(i)) + "\n" for i in range(10)))
    checkpoint = ctx.tmp / f"resume.jsonl.{ctx.keyspace}.{ctx.table}.import-checkpoint"
    checkpoint.write_text(
        json.dumps(
            {
                "kind": "cassandra-llm-cache-import-checkpoint",
                "source": str(source.resolve()),
                "lines_done": 4,
            }
        )
    )
    refused = ctx.main("import", "-t", ctx.table, "-i", str(source))
    assert refused.code == 1
    assert "--resume" in refused.err
    resumed = ctx.main(
        "import", "-t", ctx.table, "-i", str(source), "--resume",
        "--json",
    )  # fmt: skip
    assert resumed.code == 0, resumed.err
    assert resumed.json()["resumed_lines"] == 4
    assert resumed.json()["written"] == 6
    target = ctx.cache()
    assert target.lookup("p3", "m") is None  # before the resume point: not written again
    assert target.lookup("p4", "m") == [Generation(text="4")]
    assert not checkpoint.exists()


def test_import_without_create_into_a_missing_table_fails(ctx):
    source = ctx.tmp / "one.jsonl"
    source.write_text(record_line("p", "m", "x") + "\n")
    result = ctx.main("import", "-t", "nowhere_to_go", "-i", str(source), "--no-create")
    assert result.code == 1
    assert "does not exist" in result.err


def test_semantic_entries_round_trip_with_their_vectors(ctx):
    from cassandra_llm_cache import CassandraSemanticCache
    from cassandra_llm_cache.testing import DeterministicEmbeddings, basis_vector

    embeddings = DeterministicEmbeddings(
        dimension=8,
        vectors={
            "tell me a joke": basis_vector(8, 0),
            "say something funny": basis_vector(8, 0),
            "what is a tombstone": basis_vector(8, 3),
        },
    )
    semantic = CassandraSemanticCache(
        ctx.session, ctx.keyspace, embeddings, ctx.table, embedding_dimension=8, namespace="t"
    )
    semantic.update("tell me a joke", "m", [Generation(text="A joke.")])
    semantic.update("what is a tombstone", "m", [Generation(text="A deletion marker.")])
    backup = ctx.tmp / "semantic.jsonl"
    exported = ctx.main("export", "-t", ctx.table, "-o", str(backup))
    assert exported.code == 0, exported.err
    records = lines_of(backup)
    assert {len(r["embedding"]) for r in records} == {8}
    assert all(r["namespace"] == "t" for r in records)

    semantic.clear()
    assert semantic.lookup("say something funny", "m") is None
    imported = ctx.main("import", "-t", ctx.table, "-i", str(backup), "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["written"] == 2
    # The vector search finds the imported entry for a similar prompt (scope and vector intact).
    assert semantic.lookup("say something funny", "m") == [Generation(text="A joke.")]
    assert semantic.stats().exact_hits == 0
