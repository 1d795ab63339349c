"""Every script in examples/ runs against the real node, as a user would run it."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example_keyspace(cassandra_session, cassandra_contact, monkeypatch):
    """A fresh keyspace, and the environment variables the examples read."""
    keyspace = f"examples_{uuid.uuid4().hex[:12]}"
    cassandra_session.execute(
        f"CREATE KEYSPACE {keyspace} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", ",".join(cassandra_contact.contact_points))
    monkeypatch.setenv("CASSANDRA_PORT", str(cassandra_contact.port))
    monkeypatch.setenv("CASSANDRA_KEYSPACE", keyspace)
    yield keyspace
    from cassandra_llm_cache._storage import connection as _connection

    _connection.reset()
    cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=60)


def run_example(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_example_is_tested():
    tested = {
        "chat_model_with_cache.py",
        "fastapi_async_cache.py",
        "two_tenants_one_table.py",
        "semantic_local_embeddings.py",
        "migrate_legacy_table.py",
    }
    assert {path.name for path in EXAMPLES.glob("*.py")} == tested


def test_chat_model_with_cache(example_keyspace):
    out = run_example("chat_model_with_cache.py")
    assert "model calls: 1; cache: 1 hit(s), 1 miss(es)" in out


def test_two_tenants_one_table(example_keyspace):
    out = run_example("two_tenants_one_table.py")
    before, after = out.split("after clearing acme:")
    assert "acme   -> Acme: 30 days" in before
    assert "globex -> Globex: store credit only." in before
    assert "acme   -> Acme: 60 days now." in after
    assert "globex -> Globex: store credit only." in after


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fastapi_example_as_a_script(example_keyspace):
    out = run_example("fastapi_async_cache.py")
    assert "warm: 50 concurrent requests" in out


@pytest.mark.asyncio
async def test_fastapi_app_serves_concurrent_requests_without_blocking_the_loop(example_keyspace):
    import httpx
    from blockbuster import BlockBuster

    example = load_module("fastapi_async_cache.py")
    async with example.lifespan(example.app):  # connects (blocking, once, at start-up)
        transport = httpx.ASGITransport(app=example.app)
        detector = BlockBuster()
        detector.activate()  # from here on, any blocking call in the loop raises
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                first = await client.post("/ask", json={"text": "warm me up"})
                assert first.status_code == 200, first.text
                questions = [f"q{i % 10}" for i in range(100)]
                cold = await asyncio.gather(
                    *(client.post("/ask", json={"text": q}) for q in questions)
                )
                calls_before_warm = example.state["model"].calls
                warm = await asyncio.gather(
                    *(client.post("/ask", json={"text": q}) for q in questions)
                )
                stats = (await client.get("/stats")).json()
        finally:
            detector.deactivate()
        await example.state["cache"].aclear()
    assert all(r.status_code == 200 for r in cold + warm)
    assert [r.json() for r in warm] == [r.json() for r in cold]
    assert warm[3].json() == {"answer": "Answer to: q3"}
    # Every warm request was a hit: the model ran only for the first and the cold requests.
    assert stats["model_calls"] == calls_before_warm
    assert stats["hits"] >= 100


def test_semantic_cache_with_local_embeddings(example_keyspace):
    out = run_example("semantic_local_embeddings.py")
    lines = dict(line.split(" ", 1) for line in out.splitlines() if line[:1].isdigit())
    assert lines["1"] == lines["2"]  # the reworded question was answered from the cache
    assert lines["4"] == "5 kilometers are 3.11 miles."  # the reversed conversion was not
    assert "guard rejections 1" in out


def test_migrating_a_legacy_table(example_keyspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a migration keeps its checkpoint while it runs
    out = run_example("migrate_legacy_table.py")
    assert "question 7 -> answer 7" in out
    assert "md5" in out  # `stats` and `inspect` show the keys the tables use
    assert list(tmp_path.iterdir()) == []  # finished migrations leave no checkpoint
