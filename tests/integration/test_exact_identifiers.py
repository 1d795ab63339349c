"""Hostile keyspace and table names are refused before anything reaches the server."""

from __future__ import annotations

import pytest
from cache_helpers import keyspace_exists

from cassandra_llm_cache import CassandraCache, ConfigurationError, SetupMode

HOSTILE = [
    "t; DROP KEYSPACE {ks};",
    'x" WITH comment = "pwned',
    "a b",
    "1abc",
    "",
    "x" * 49,
    "système",
    "tbl--",
]


def schema_snapshot(session) -> set[tuple[str, str]]:
    return {
        (row.keyspace_name, row.table_name)
        for row in session.execute("SELECT keyspace_name, table_name FROM system_schema.tables")
    }


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("mode", [SetupMode.SYNC, SetupMode.ASYNC, SetupMode.OFF])
def test_hostile_table_names(cassandra_session, cassandra_keyspace, name, mode):
    before = schema_snapshot(cassandra_session)
    with pytest.raises(ValueError, match="invalid table name"):
        CassandraCache(
            cassandra_session,
            cassandra_keyspace,
            name.format(ks=cassandra_keyspace),
            setup_mode=mode,
        )
    assert schema_snapshot(cassandra_session) == before
    assert keyspace_exists(cassandra_session, cassandra_keyspace)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_keyspace_names(cassandra_session, cassandra_keyspace, name):
    before = schema_snapshot(cassandra_session)
    with pytest.raises(ConfigurationError, match="invalid keyspace name"):
        CassandraCache(
            cassandra_session,
            name.format(ks=cassandra_keyspace),
            "t",
            keyspace_replication={"class": "SimpleStrategy", "replication_factor": 1},
        )
    assert schema_snapshot(cassandra_session) == before


def test_hostile_replication_maps(cassandra_session):
    with pytest.raises(ConfigurationError):
        CassandraCache(
            cassandra_session,
            "ks_never_created",
            "t",
            keyspace_replication={"class": "SimpleStrategy", "x' : '1'} AND durable_writes": 1},
        )
    assert not keyspace_exists(cassandra_session, "ks_never_created")


def test_a_reserved_word_is_a_valid_quoted_name(cassandra_session, cassandra_keyspace):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, "select")
    try:
        cache.update("p", "l", [])
        assert cache.lookup("p", "l") == []
    finally:
        cassandra_session.execute(f'DROP TABLE IF EXISTS {cassandra_keyspace}."select"')
