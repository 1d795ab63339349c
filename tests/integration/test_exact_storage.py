"""What lands in the table: hashed keys, one partition per entry, versioned values, TTLs."""

from __future__ import annotations

import hashlib
import time

import pytest
from cache_helpers import rows
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from cassandra_llm_cache import CassandraCache
from cassandra_llm_cache._values.codec import MAGIC

GEN = [Generation(text="cached answer")]


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def test_entries_are_keyed_by_sha256_without_plaintext(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    cache.update("secret prompt", "model config", GEN)
    cache.update("other prompt", "model config", GEN)
    stored = rows(cassandra_session, cassandra_keyspace, table_name)
    assert len(stored) == 2  # one partition per entry
    keys = {(row.namespace, row.llm_key, row.prompt_key) for row in stored}
    assert ("", sha("model config"), sha("secret prompt")) in keys
    for row in stored:
        assert row.prompt is None
        assert row.llm_string is None
        assert row.body.startswith(MAGIC)
        assert b"secret" not in row.body


def test_plaintext_is_stored_only_on_request(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, store_plaintext=True)
    cache.update("visible prompt \udc80", "model config", GEN)
    (row,) = rows(cassandra_session, cassandra_keyspace, table_name)
    assert row.prompt == "visible prompt ?"
    assert row.llm_string == "model config"
    assert cache.lookup("visible prompt \udc80", "model config") == GEN
    assert cache.lookup("visible prompt ?", "model config") is None


def ttl_of(session, keyspace, table) -> list[int | None]:
    return [row[0] for row in session.execute(f"SELECT TTL(body) FROM {keyspace}.{table}")]


# Long enough that the rows are still there when the test reads their TTLs on a busy machine.
SHORT_TTL = 3


def test_ttl_per_cache_and_per_call(cassandra_session, cassandra_keyspace, table_name):
    forever = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    short = CassandraCache(cassandra_session, cassandra_keyspace, table_name, ttl_seconds=SHORT_TTL)
    forever.update("kept", "l", GEN)
    forever.update("per-call", "l", GEN, ttl_seconds=SHORT_TTL)
    short.update("short", "l", GEN)
    short.update("override-forever", "l", GEN, ttl_seconds=None)
    ttls = ttl_of(cassandra_session, cassandra_keyspace, table_name)
    assert sorted(t is None for t in ttls) == [False, False, True, True]
    assert forever.lookup("per-call", "l") == GEN
    time.sleep(SHORT_TTL + 1.2)
    assert forever.lookup("per-call", "l") is None
    assert short.lookup("short", "l") is None
    assert forever.lookup("kept", "l") == GEN
    assert short.lookup("override-forever", "l") == GEN


def test_without_a_ttl_the_tables_default_time_to_live_applies(
    cassandra_session, cassandra_keyspace, table_name
):
    # As in the legacy class, which left USING TTL out: a table default set by an operator is
    # honoured by entries written with ttl_seconds=None, and a per-call TTL still wins.
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    cassandra_session.execute(
        f"ALTER TABLE {cassandra_keyspace}.{table_name} WITH default_time_to_live = 3600"
    )
    cache.update("table default", "l", GEN)
    cache.update("own ttl", "l", GEN, ttl_seconds=60)
    own, default = sorted(ttl_of(cassandra_session, cassandra_keyspace, table_name))
    assert 0 < own <= 60
    assert 3500 < default <= 3600
    assert cache.lookup("table default", "l") == GEN


@pytest.mark.asyncio
async def test_async_update_takes_a_per_call_ttl(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    await cache.aupdate("p", "l", GEN, ttl_seconds=3600)
    (ttl,) = ttl_of(cassandra_session, cassandra_keyspace, table_name)
    assert ttl is not None
    assert 3500 < ttl <= 3600


def test_a_large_value_round_trips(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    big = [ChatGeneration(message=AIMessage(content="token " * 200_000, id="big"))]
    cache.update("p", "l", big)
    assert cache.lookup("p", "l") == big
    (row,) = rows(cassandra_session, cassandra_keyspace, table_name)
    assert len(row.body) < 100_000  # compressed


def test_unstorable_values_are_skipped_and_counted(
    cassandra_session, cassandra_keyspace, table_name, caplog
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    unstorable = [Generation(text="secret text", generation_info={"at": object()})]
    cache.update("p", "l", unstorable)
    cache.update("p2", "l", unstorable)
    assert cache.lookup("p", "l") is None
    assert cache.stats().errors == 2
    assert cache.stats().writes == 0
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1  # logged once
    assert "secret text" not in caplog.text


def test_stats_repr_and_truthiness(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name, ttl_seconds=60)
    for klass in type(cache).__mro__[:-1]:  # everything but object
        assert "__len__" not in vars(klass)
        assert "__bool__" not in vars(klass)
    assert bool(cache) is True  # an empty cache is still truthy: langchain-core checks it
    again = CassandraCache(cassandra_session, cassandra_keyspace, table_name, ttl_seconds=60)
    assert repr(cache) == repr(again)
    assert repr(cache) == (
        f"CassandraCache(keyspace='{cassandra_keyspace}', table_name='{table_name}', "
        "namespace='', ttl_seconds=60, setup_mode=SetupMode.SYNC)"
    )
    cache.lookup("p", "l")
    cache.update("p", "l", GEN)
    cache.lookup("p", "l")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.writes, stats.errors) == (1, 1, 1, 0)
    assert again.stats().lookups == 0  # counters are per object


def test_table_names_are_case_insensitive_like_unquoted_cql(
    cassandra_session, cassandra_keyspace, table_name
):
    upper = CassandraCache(cassandra_session, cassandra_keyspace.upper(), table_name.upper())
    upper.update("p", "l", GEN)
    lower = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    assert lower.lookup("p", "l") == GEN


@pytest.mark.parametrize("metadata", [True, False], ids=["driver-metadata", "system-schema"])
def test_an_md5_keyed_table_is_keyed_with_md5(
    cassandra_contact, cassandra_keyspace, table_name, metadata
):
    from cassandra.cluster import Cluster

    from cassandra_llm_cache._storage.cql import exact_table_cql

    cluster = Cluster(**cassandra_contact.cluster_kwargs(), schema_metadata_enabled=metadata)
    session = cluster.connect()
    try:
        session.execute(exact_table_cql(cassandra_keyspace, table_name, md5_keys=True))
        cache = CassandraCache(session, cassandra_keyspace, table_name)
        cache.update("prompt", "llm", GEN)
        cache.update("prompt", "other llm", GEN)
        assert cache.lookup("prompt", "llm") == GEN
        keys = {
            (row.llm_key, row.prompt_key) for row in rows(session, cassandra_keyspace, table_name)
        }
        md5 = hashlib.md5
        assert (md5(b"llm").digest(), md5(b"prompt").digest()) in keys
        cache.clear(llm_string="llm")
        assert cache.lookup("prompt", "llm") is None
        assert cache.lookup("prompt", "other llm") == GEN
    finally:
        cluster.shutdown()
