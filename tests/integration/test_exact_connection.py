"""init(): the process-wide connection caches fall back to, on the real node."""

from __future__ import annotations

import logging

import pytest
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraCache, ConfigurationError, init
from cassandra_llm_cache._storage import connection as _connection

GEN = [Generation(text="g")]


@pytest.fixture(autouse=True)
def fresh_global_connection():
    _connection.reset()
    yield
    _connection.reset()


def test_init_with_a_session(cassandra_session, cassandra_keyspace, table_name):
    assert init(cassandra_session, keyspace=cassandra_keyspace) is cassandra_session
    cache = CassandraCache(table_name=table_name)
    cache.update("p", "l", GEN)
    assert CassandraCache(cassandra_session, cassandra_keyspace, table_name).lookup("p", "l") == GEN


def test_init_auto_reads_the_environment(
    monkeypatch, cassandra_contact, cassandra_keyspace, table_name
):
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", ",".join(cassandra_contact.contact_points))
    monkeypatch.setenv("CASSANDRA_PORT", str(cassandra_contact.port))
    monkeypatch.setenv("CASSANDRA_KEYSPACE", cassandra_keyspace)
    for name in ("CASSANDRA_USERNAME", "CASSANDRA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    if cassandra_contact.username:
        monkeypatch.setenv("CASSANDRA_USERNAME", cassandra_contact.username)
        monkeypatch.setenv("CASSANDRA_PASSWORD", cassandra_contact.password or "")
    session = init(auto=True)
    assert session.cluster.application_name == "cassandra-llm-cache"
    cache = CassandraCache(table_name=table_name)
    cache.update("p", "l", GEN)
    assert cache.lookup("p", "l") == GEN
    assert "password" not in repr(_connection._current).lower()
    _connection.reset()
    assert session.is_shutdown  # the cluster init() opened is closed when replaced


def test_init_speaks_protocol_v4_without_downgrade_warnings(cassandra_contact, caplog):
    with caplog.at_level(logging.DEBUG, logger="cassandra"):
        session = init(
            contact_points=cassandra_contact.contact_points,
            port=cassandra_contact.port,
            username=cassandra_contact.username,
            password=cassandra_contact.password,
        )
    assert session.cluster.protocol_version == 4  # the cheaper one in client CPU
    assert "Downgrading" not in caplog.text
    _connection.reset()
    legacy = init(
        contact_points=cassandra_contact.contact_points,
        port=cassandra_contact.port,
        username=cassandra_contact.username,
        password=cassandra_contact.password,
        cluster_options={"protocol_version": 5},
    )
    assert legacy.cluster.protocol_version == 5  # the override wins


def test_explicit_arguments_win_over_init(cassandra_session, cassandra_keyspace, table_name):
    init(cassandra_session, keyspace="some_other_keyspace")
    cache = CassandraCache(keyspace=cassandra_keyspace, table_name=table_name)
    assert f"keyspace='{cassandra_keyspace}'" in repr(cache)


def test_the_session_keyspace_is_the_last_fallback(
    cassandra_contact, cassandra_keyspace, table_name
):
    from cassandra.cluster import Cluster

    cluster = Cluster(**cassandra_contact.cluster_kwargs())
    try:
        session = cluster.connect(cassandra_keyspace)
        cache = CassandraCache(session, table_name=table_name)
        assert f"keyspace='{cassandra_keyspace}'" in repr(cache)
        no_keyspace = cluster.connect()
        with pytest.raises(ConfigurationError, match="no keyspace"):
            CassandraCache(no_keyspace, table_name=table_name)
    finally:
        cluster.shutdown()


def test_an_execution_profile_is_copied_not_changed(
    cassandra_session, cassandra_keyspace, table_name
):
    from cassandra import ConsistencyLevel
    from cassandra.cluster import ExecutionProfile
    from cassandra.policies import RoundRobinPolicy
    from cassandra.query import dict_factory

    name = f"profile_{table_name}"
    profile = ExecutionProfile(
        load_balancing_policy=RoundRobinPolicy(),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        row_factory=dict_factory,
    )
    cassandra_session.cluster.add_execution_profile(name, profile)
    cache = CassandraCache(
        cassandra_session, cassandra_keyspace, table_name, execution_profile=name
    )
    cache.update("p", "l", GEN)
    assert cache.lookup("p", "l") == GEN
    assert profile.row_factory is dict_factory  # the user's profile is untouched
    with pytest.raises(ConfigurationError, match="execution profile"):
        CassandraCache(cassandra_session, cassandra_keyspace, table_name, execution_profile="nope")


def test_a_session_in_the_drivers_legacy_configuration(
    cassandra_contact, cassandra_keyspace, table_name
):
    from cassandra.cluster import Cluster
    from cassandra.policies import RoundRobinPolicy
    from cassandra.query import dict_factory

    with pytest.warns(DeprecationWarning, match="Legacy execution parameters"):
        cluster = Cluster(
            **cassandra_contact.cluster_kwargs(), load_balancing_policy=RoundRobinPolicy()
        )
    try:
        session = cluster.connect()
        session.row_factory = dict_factory  # rows come back as dicts; profiles are refused
        cache = CassandraCache(session, cassandra_keyspace, table_name)
        cache.update("p", "l", GEN)
        assert cache.lookup("p", "l") == GEN
        cache.clear(llm_string="l")
        assert cache.lookup("p", "l") is None
    finally:
        cluster.shutdown()
