"""Setup modes on the real node: SYNC creates, ASYNC never blocks, OFF runs no DDL."""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
import warnings

import pytest
from blockbuster import BlockBuster
from cache_helpers import keyspace_exists, table_exists, table_options
from cassandra.cluster import Cluster
from langchain_core.outputs import Generation

from cassandra_llm_cache import (
    CassandraCache,
    ConfigurationError,
    SetupError,
    SetupMode,
)

GEN = [Generation(text="cached", generation_info={"n": 1})]


def test_sync_creates_the_table_with_cache_options(
    cassandra_session, cassandra_keyspace, table_name
):
    assert not table_exists(cassandra_session, cassandra_keyspace, table_name)
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    assert table_exists(cassandra_session, cassandra_keyspace, table_name)
    options = table_options(cassandra_session, cassandra_keyspace, table_name)
    assert options.gc_grace_seconds == 10800
    assert options.bloom_filter_fp_chance == pytest.approx(0.001)
    assert options.compaction["class"].endswith("UnifiedCompactionStrategy")
    assert options.caching == {"keys": "ALL", "rows_per_partition": "NONE"}
    assert options.compression["chunk_length_in_kb"] == "4"
    cache.update("p", "l", GEN)
    assert cache.lookup("p", "l") == GEN


def test_async_setup_outside_a_loop_does_not_block(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.ASYNC
    )
    assert not cache._setup.done()  # CREATE TABLE takes far longer than the constructor
    assert cache.lookup("p", "l") is None  # waits for setup
    cache.update("p", "l", GEN)
    assert cache.lookup("p", "l") == GEN


@pytest.mark.asyncio
async def test_async_setup_inside_a_running_loop(cassandra_session, cassandra_keyspace, table_name):
    blockbuster = BlockBuster()
    blockbuster.activate()  # any blocking call on this loop's thread raises
    try:
        cache = CassandraCache(
            cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.ASYNC
        )
        assert not cache._setup.done()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while not cache._setup.done():
                ticks += 1
                await asyncio.sleep(0.005)

        lookups = [cache.alookup(f"p{i}", "l") for i in range(50)]
        results, _ = await asyncio.gather(asyncio.gather(*lookups), ticker())
        assert results == [None] * 50
        assert ticks > 0  # the loop kept running while the table was being created
        await cache.aupdate("p", "l", GEN)
        assert await cache.alookup("p", "l") == GEN
    finally:
        blockbuster.deactivate()


def test_sync_calls_from_threads_wait_for_async_setup(
    cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.ASYNC
    )
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: cache.lookup(f"p{i}", "l"), range(8)))
    assert results == [None] * 8


def test_a_missing_keyspace_is_a_clear_error(cassandra_session):
    missing = f"ks_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(
        SetupError, match=f"keyspace '{missing}' does not exist.*keyspace_replication"
    ):
        CassandraCache(cassandra_session, missing, "t")
    assert not keyspace_exists(cassandra_session, missing)


@pytest.mark.asyncio
async def test_a_failed_async_setup_is_raised_by_every_call(cassandra_session):
    missing = f"ks_missing_{uuid.uuid4().hex[:8]}"
    cache = CassandraCache(
        cassandra_session, missing, "t", setup_mode=SetupMode.ASYNC, on_error="raise"
    )
    depths = []
    for _ in range(3):
        with pytest.raises(SetupError, match=f"keyspace '{missing}' does not exist") as caught:
            await cache.alookup("p", "l")
        with pytest.raises(SetupError, match="setup failed"):
            cache.update("p", "l", GEN)
        cause = caught.value.__cause__
        assert isinstance(cause, SetupError)
        depths.append(len(traceback.extract_tb(cause.__traceback__)))
    assert depths[0] == depths[-1]  # the stored failure is not re-raised (no growing traceback)
    assert cache.stats().lookups == 0


def test_keyspace_is_created_only_when_asked(cassandra_session):
    keyspace = f"ks_created_{uuid.uuid4().hex[:8]}"
    try:
        cache = CassandraCache(
            cassandra_session,
            keyspace,
            "t",
            keyspace_replication={"class": "SimpleStrategy", "replication_factor": 1},
        )
        assert keyspace_exists(cassandra_session, keyspace)
        cache.update("p", "l", GEN)
        assert cache.lookup("p", "l") == GEN
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")


def test_off_issues_no_ddl(cassandra_session, cassandra_keyspace, table_name):
    cache = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        setup_mode=SetupMode.OFF,
        on_error="raise",
    )
    with pytest.raises(SetupError, match="does not exist, and setup_mode=OFF never creates it"):
        cache.lookup("p", "l")
    time.sleep(0.2)
    assert not table_exists(cassandra_session, cassandra_keyspace, table_name)


def test_off_serves_an_existing_table(cassandra_session, cassandra_keyspace, table_name):
    CassandraCache(cassandra_session, cassandra_keyspace, table_name).update("p", "l", GEN)
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.OFF
    )
    assert cache.lookup("p", "l") == GEN


def test_skip_provisioning_is_off_with_a_deprecation_warning(
    cassandra_session, cassandra_keyspace, table_name
):
    with pytest.warns(DeprecationWarning, match="skip_provisioning"):
        cache = CassandraCache(
            cassandra_session,
            cassandra_keyspace,
            table_name,
            None,
            True,  # noqa: FBT003
            on_error="raise",
        )
    with pytest.raises(SetupError):
        cache.lookup("p", "l")
    assert not table_exists(cassandra_session, cassandra_keyspace, table_name)


def test_legacy_setup_mode_values_are_accepted(cassandra_session, cassandra_keyspace, table_name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.utilities.cassandra import SetupMode as LegacySetupMode
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=LegacySetupMode.ASYNC
    )
    assert "SetupMode.ASYNC" in repr(cache)
    assert cache.lookup("p", "l") is None


def test_off_with_keyspace_creation_is_contradictory(cassandra_session, cassandra_keyspace):
    with pytest.raises(ConfigurationError, match="OFF"):
        CassandraCache(
            cassandra_session,
            cassandra_keyspace,
            setup_mode=SetupMode.OFF,
            keyspace_replication={"class": "SimpleStrategy", "replication_factor": 1},
        )


def test_a_table_of_another_shape_is_refused(cassandra_session, cassandra_keyspace, table_name):
    cassandra_session.execute(
        f"CREATE TABLE {cassandra_keyspace}.{table_name} (id int PRIMARY KEY, body text)"
    )
    with pytest.raises(ConfigurationError, match="not an LLM cache table"):
        CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    cache = CassandraCache(
        cassandra_session,
        cassandra_keyspace,
        table_name,
        setup_mode=SetupMode.ASYNC,
        on_error="raise",
    )
    with pytest.raises(SetupError, match="not an LLM cache table"):
        cache.lookup("p", "l")


def test_setup_without_driver_schema_metadata(cassandra_contact, cassandra_keyspace, table_name):
    cluster = Cluster(**cassandra_contact.cluster_kwargs(), schema_metadata_enabled=False)
    session = cluster.connect()
    try:
        assert cassandra_keyspace not in cluster.metadata.keyspaces
        cache = CassandraCache(session, cassandra_keyspace, table_name)
        cache.update("p", "l", GEN)
        assert cache.lookup("p", "l") == GEN
        off = CassandraCache(session, cassandra_keyspace, table_name, setup_mode=SetupMode.OFF)
        assert off.lookup("p", "l") == GEN
    finally:
        cluster.shutdown()


def test_printed_ddl_run_by_hand_then_off(cassandra_session, cassandra_keyspace, table_name):
    for statement in CassandraCache.schema_cql(cassandra_keyspace, table_name).split(";\n"):
        if statement.strip():
            cassandra_session.execute(statement)
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.OFF
    )
    cache.update("p", "l", GEN)
    assert cache.lookup("p", "l") == GEN
