"""Garbage written straight into the table: a counted, logged miss; nothing else is affected."""

from __future__ import annotations

import hashlib
import logging

import pytest
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache
from cassandra_llm_cache._values.codec import MAGIC

GEN = [Generation(text="good")]


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01garbage",
        MAGIC + b"\x63\x00[]",  # a future format version
        MAGIC + b"\x01\x02not zstd at all",
        MAGIC + b'\x01\x00[{"_": "os.system", "text": "x"}]',
        None,
    ],
    ids=["bytes", "future-version", "bad-zstd", "foreign-class", "null"],
)
def test_garbage_is_a_miss_and_nothing_else_breaks(
    cassandra_session, cassandra_keyspace, table_name, caplog, garbage
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    cache.update("good prompt", "l", GEN)
    cache.update("corrupted prompt", "l", GEN)
    cassandra_session.execute(
        f"UPDATE {cassandra_keyspace}.{table_name} SET body = %s "
        "WHERE namespace = '' AND llm_key = %s AND prompt_key = %s",
        (garbage, sha("l"), sha("corrupted prompt")),
    )
    with caplog.at_level(logging.DEBUG, logger="cassandra_llm_cache"):
        assert cache.lookup("corrupted prompt", "l") is None
        assert cache.lookup("corrupted prompt", "l") is None
    assert cache.lookup("good prompt", "l") == GEN
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.errors) == (1, 2, 2)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, then DEBUG
    assert "unreadable cache value" in warnings[0].getMessage()
    assert "corrupted prompt" not in caplog.text
    # The entry can be overwritten with a good value.
    cache.update("corrupted prompt", "l", GEN)
    assert cache.lookup("corrupted prompt", "l") == GEN


@pytest.mark.asyncio
async def test_garbage_is_a_miss_async(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    await cache.aupdate("p", "l", GEN)
    cassandra_session.execute(
        f"UPDATE {cassandra_keyspace}.{table_name} SET body = 0xdeadbeef "
        "WHERE namespace = '' AND llm_key = %s AND prompt_key = %s",
        (sha("l"), sha("p")),
    )
    assert await cache.alookup("p", "l") is None
    assert cache.stats().errors == 1
