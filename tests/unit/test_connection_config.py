"""init() and session resolution: every misconfiguration is a clear error before any I/O."""

from __future__ import annotations

import pytest

from cassandra_llm_cache import (
    CassandraCache,
    ConfigurationError,
    SessionNotConfiguredError,
    init,
)
from cassandra_llm_cache._storage import connection as _connection

ENV = ("CASSANDRA_CONTACT_POINTS", "CASSANDRA_PORT", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD")


@pytest.fixture(autouse=True)
def no_connection(monkeypatch):
    for name in (*ENV, "CASSANDRA_KEYSPACE"):
        monkeypatch.delenv(name, raising=False)
    _connection.reset()
    yield
    _connection.reset()


def test_a_cache_without_any_session_names_both_ways_to_give_one():
    with pytest.raises(SessionNotConfiguredError) as caught:
        CassandraCache()
    message = str(caught.value)
    assert "session=" in message
    assert "init(" in message
    assert "CASSANDRA_CONTACT_POINTS" in message
    assert isinstance(caught.value, ValueError)


def test_init_needs_something_to_connect_with():
    with pytest.raises(ConfigurationError, match="contact_points"):
        init()
    with pytest.raises(ConfigurationError, match="CASSANDRA_CONTACT_POINTS is not set"):
        init(auto=True)


def test_bad_environment_values_are_named(monkeypatch):
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", "127.0.0.1")
    monkeypatch.setenv("CASSANDRA_PORT", "nine")
    with pytest.raises(ConfigurationError, match="CASSANDRA_PORT"):
        init(auto=True)


def test_credentials_come_in_pairs_and_passwords_are_never_shown():
    with pytest.raises(ConfigurationError) as caught:
        init(contact_points=["127.0.0.1"], password="hunter2-secret")
    assert "hunter2-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"contact_points": ["127.0.0.1"], "port": 0},
        {"contact_points": ["127.0.0.1"], "port": "9042"},
        {"contact_points": " , "},
        {"contact_points": ["127.0.0.1"], "keyspace": "bad-name"},
    ],
)
def test_invalid_connection_settings(kwargs):
    with pytest.raises(ConfigurationError):
        init(**kwargs)


def test_session_and_contact_points_are_exclusive():
    with pytest.raises(ConfigurationError, match="either a session"):
        init(object(), contact_points=["127.0.0.1"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"cassandra\.cluster\.Session"):
        init(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"cassandra\.cluster\.Session"):
        CassandraCache(object(), "ks")  # type: ignore[arg-type]


def test_cache_arguments_are_checked_before_any_io():
    with pytest.raises(ConfigurationError, match="table name"):
        CassandraCache(table_name="bad name")
    with pytest.raises(ConfigurationError, match="ttl_seconds"):
        CassandraCache(ttl_seconds=0)
    with pytest.raises(ConfigurationError, match="ttl_seconds"):
        CassandraCache(ttl_seconds=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="namespace"):
        CassandraCache(namespace="x" * 300)
    with pytest.raises(ConfigurationError, match="namespace"):
        CassandraCache(namespace="bad \udc80")
    with pytest.raises(ConfigurationError, match="setup_mode"):
        CassandraCache(setup_mode="eventually")
