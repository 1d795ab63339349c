"""Hostile names never reach the server and crafted rows are misses, for the semantic cache too
(the exact cache's own tests: ``test_exact_identifiers.py``, ``test_exact_corrupt_values.py``)."""

from __future__ import annotations

import hashlib
import logging

import pytest
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache, CassandraSemanticCache, ConfigurationError
from cassandra_llm_cache._values.codec import MAGIC
from cassandra_llm_cache.testing import DeterministicEmbeddings

HOSTILE = [
    "t; DROP KEYSPACE {ks}",
    "x\" WITH comment='y",
    "a.b",
    "",
    "x" * 49,
    "système",
    "t\x00",
    "1st",
]
# Stored values naming classes outside the allow-list: each must be a counted miss.
CRAFTED = [
    MAGIC + b'\x01\x00[{"_": "os.system", "text": "echo"}]',
    MAGIC + b'\x01\x00[{"_": "C", "m": "subprocess.Popen", "message": {"content": "x"}}]',
    MAGIC + b'\x01\x00[{"lc": 1, "type": "constructor", "id": ["os", "system"], "kwargs": {}}]',
]


@pytest.fixture
def sent(cassandra_session):
    """Every request the session sends during the test (the driver's request hook)."""
    requests: list[object] = []

    def record(response_future):
        requests.append(response_future.query)

    cassandra_session.add_request_init_listener(record)
    try:
        yield requests
    finally:
        cassandra_session.remove_request_init_listener(record)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_semantic_table_and_keyspace_names_are_refused_before_the_server(
    cassandra_session, cassandra_keyspace, sent, name
):
    hostile = name.format(ks=cassandra_keyspace)
    with pytest.raises(ConfigurationError, match="invalid table name"):
        CassandraSemanticCache(
            cassandra_session, cassandra_keyspace, DeterministicEmbeddings(8), hostile
        )
    with pytest.raises(ConfigurationError, match="invalid keyspace name"):
        CassandraSemanticCache(cassandra_session, hostile, DeterministicEmbeddings(8), "t")
    assert sent == []


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@pytest.mark.parametrize("crafted", CRAFTED, ids=["generation", "message", "lc-constructor"])
def test_a_crafted_semantic_row_is_a_miss(
    cassandra_session, cassandra_keyspace, table_name, caplog, crafted
):
    embeddings = DeterministicEmbeddings(8)
    cache = CassandraSemanticCache(
        cassandra_session, cassandra_keyspace, embeddings, table_name, score_threshold=0.9
    )
    cache.update("the crafted prompt", "l", [Generation(text="genuine")])
    cassandra_session.execute(
        f"UPDATE {cassandra_keyspace}.{table_name} SET body = %s "
        "WHERE namespace = '' AND llm_key = %s AND prompt_key = %s",
        (crafted, sha("l"), sha("the crafted prompt")),
    )
    with caplog.at_level(logging.DEBUG, logger="cassandra_llm_cache"):
        # The key read finds it, then the vector search finds it again: both refuse it.
        assert cache.lookup("the crafted prompt", "l") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (0, 1)
    assert stats.errors >= 1
    assert "unreadable cache value" in caplog.text
    assert "the crafted prompt" not in caplog.text


@pytest.mark.parametrize("crafted", CRAFTED, ids=["generation", "message", "lc-constructor"])
@pytest.mark.asyncio
async def test_a_crafted_exact_row_is_a_miss_async(
    cassandra_session, cassandra_keyspace, table_name, crafted
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    await cache.aupdate("prompt", "l", [Generation(text="genuine")])
    cassandra_session.execute(
        f"UPDATE {cassandra_keyspace}.{table_name} SET body = %s "
        "WHERE namespace = '' AND llm_key = %s AND prompt_key = %s",
        (crafted, sha("l"), sha("prompt")),
    )
    assert await cache.alookup("prompt", "l") is None
    assert (cache.stats().misses, cache.stats().errors) == (1, 1)
