"""Hostile keyspace and table names are refused before anything reaches the server."""

from __future__ import annotations

import pytest
from cache_helpers import keyspace_exists
from langchain_core.outputs import Generation

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


@pytest.fixture
def sent(cassandra_session):
    """Every request the session sends while the test runs (the driver's own request hook)."""
    requests: list[object] = []

    def record(response_future):
        requests.append(response_future.query)

    cassandra_session.add_request_init_listener(record)
    try:
        yield requests
    finally:
        cassandra_session.remove_request_init_listener(record)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("mode", [SetupMode.SYNC, SetupMode.ASYNC, SetupMode.OFF])
def test_hostile_table_names(cassandra_session, cassandra_keyspace, sent, name, mode):
    with pytest.raises(ValueError, match="invalid table name"):
        CassandraCache(
            cassandra_session,
            cassandra_keyspace,
            name.format(ks=cassandra_keyspace),
            setup_mode=mode,
        )
    assert sent == []  # refused before a single request
    assert keyspace_exists(cassandra_session, cassandra_keyspace)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_keyspace_names(cassandra_session, cassandra_keyspace, sent, name):
    with pytest.raises(ConfigurationError, match="invalid keyspace name"):
        CassandraCache(
            cassandra_session,
            name.format(ks=cassandra_keyspace),
            "t",
            keyspace_replication={"class": "SimpleStrategy", "replication_factor": 1},
        )
    assert sent == []


def test_the_request_hook_sees_a_cache_at_work(
    cassandra_session, cassandra_keyspace, table_name, sent
):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    cache.lookup("p", "l")
    assert sent  # the detector above is live: a real cache's requests are seen


def test_hostile_replication_maps(cassandra_session, sent):
    with pytest.raises(ConfigurationError):
        CassandraCache(
            cassandra_session,
            "ks_never_created",
            "t",
            keyspace_replication={"class": "SimpleStrategy", "x' : '1'} AND durable_writes": 1},
        )
    assert sent == []
    assert not keyspace_exists(cassandra_session, "ks_never_created")


def test_a_reserved_word_is_a_valid_quoted_name(cassandra_session, cassandra_keyspace):
    cache = CassandraCache(cassandra_session, cassandra_keyspace, "select")
    try:
        cache.update("p", "l", [Generation(text="x")])
        assert cache.lookup("p", "l") == [Generation(text="x")]
    finally:
        cassandra_session.execute(f'DROP TABLE IF EXISTS {cassandra_keyspace}."select"')
