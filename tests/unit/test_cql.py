"""CQL text: identifiers are validated and quoted before anything reaches a server."""

from __future__ import annotations

import pytest

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache._storage.cql import (
    EXACT_STATEMENTS,
    LEGACY_STATEMENTS,
    Layout,
    TableInfo,
    create_keyspace_cql,
    detect_exact_layout,
    exact_statements,
    exact_table_cql,
    identifier,
    legacy_statements,
    qualified,
    replication_cql,
)

HOSTILE = [
    "",
    "1table",
    "_private",
    "has space",
    'quo"te',
    "semi;colon",
    "t; DROP KEYSPACE system;--",
    "dash-name",
    "ünïcode",
    "a" * 49,
    "tab\tle",
    "new\nline",
    "x.y",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_configuration_errors(name):
    with pytest.raises(ConfigurationError) as caught:
        identifier(name, "table name")
    assert isinstance(caught.value, ValueError)
    assert "table name" in str(caught.value)


@pytest.mark.parametrize("name", [None, 42, b"bytes", ["list"]])
def test_non_strings_are_configuration_errors(name):
    with pytest.raises(ConfigurationError):
        identifier(name, "keyspace name")


@pytest.mark.parametrize(
    ("name", "normalised"),
    [("cache", "cache"), ("MyCache_2", "mycache_2"), ("select", "select"), ("a" * 48, "a" * 48)],
)
def test_valid_names_are_lowercased_like_unquoted_cql(name, normalised):
    assert identifier(name, "table name") == normalised


def test_names_are_always_quoted():
    assert qualified("ks", "select") == '"ks"."select"'
    assert '"ks"."t"' in exact_table_cql("ks", "t")
    for statement in (
        *exact_statements("ks", "t").values(),
        *legacy_statements("ks", "t").values(),
    ):
        assert '"ks"."t"' in statement
        assert "<table>" not in statement


def test_statements_bind_every_value():
    for statement in (*EXACT_STATEMENTS.values(), *LEGACY_STATEMENTS.values()):
        assert "%s" not in statement
        assert "'" not in statement  # no literal ever inlined


def test_exact_table_has_one_partition_per_entry_and_cache_options():
    ddl = exact_table_cql("ks", "t")
    assert ddl.startswith('CREATE TABLE IF NOT EXISTS "ks"."t"')
    assert "PRIMARY KEY ((namespace, llm_key, prompt_key))" in ddl
    for option in (
        "UnifiedCompactionStrategy",
        "gc_grace_seconds = 10800",
        "bloom_filter_fp_chance = 0.001",
        "'rows_per_partition': 'NONE'",
        "'chunk_length_in_kb': 4",
    ):
        assert option in ddl


def test_replication_maps_are_quoted_and_validated():
    assert replication_cql({"class": "NetworkTopologyStrategy", "dc-1": 3}) == (
        "{'class': 'NetworkTopologyStrategy', 'dc-1': '3'}"
    )
    assert "'it''s'" in replication_cql({"class": "it's"})
    assert create_keyspace_cql("ks", {"class": "SimpleStrategy", "replication_factor": 1}) == (
        'CREATE KEYSPACE IF NOT EXISTS "ks" WITH replication = '
        "{'class': 'SimpleStrategy', 'replication_factor': '1'}"
    )
    for bad in ({}, {"replication_factor": 1}, {"class": "S", "x y": 1}, {"class": "S", "n": 1.5}):
        with pytest.raises(ConfigurationError):
            replication_cql(bad)


def _info(columns: dict[str, str], partition_key: tuple[str, ...]) -> TableInfo:
    return TableInfo(columns=columns, partition_key=partition_key)


def test_layout_detection():
    exact = _info(
        {"namespace": "text", "llm_key": "blob", "prompt_key": "blob", "body": "blob"},
        ("namespace", "llm_key", "prompt_key"),
    )
    legacy = _info(
        {"key_desc": "text", "key_vals": "text", "body_blob": "text"}, ("key_desc", "key_vals")
    )
    assert detect_exact_layout(exact, where="ks.t") is Layout.EXACT
    assert detect_exact_layout(legacy, where="ks.t") is Layout.LEGACY
    other = _info({"id": "uuid", "body": "text"}, ("id",))
    with pytest.raises(ConfigurationError, match=r"ks\.t exists but is not an LLM cache table"):
        detect_exact_layout(other, where="ks.t")
    wrong_key = _info(dict(exact.columns), ("namespace",))
    with pytest.raises(ConfigurationError):
        detect_exact_layout(wrong_key, where="ks.t")


def test_schema_cql_prints_the_ddl_without_a_session():
    from cassandra_llm_cache import CassandraCache

    ddl = CassandraCache.schema_cql("My_KS")
    assert ddl == exact_table_cql("my_ks", "langchain_llm_cache") + ";\n"
    with_keyspace = CassandraCache.schema_cql(
        "ks", "t", keyspace_replication={"class": "SimpleStrategy", "replication_factor": 3}
    )
    first, second = with_keyspace.split(";\n\n")
    assert first.startswith('CREATE KEYSPACE IF NOT EXISTS "ks"')
    assert second.startswith('CREATE TABLE IF NOT EXISTS "ks"."t"')
    with pytest.raises(ConfigurationError):
        CassandraCache.schema_cql("ks", "bad;name")


def test_md5_keyed_exact_tables_are_marked_in_their_comment():
    from cassandra_llm_cache._storage.cql import MD5_KEYS_MARK, uses_md5_keys

    plain = exact_table_cql("ks", "t")
    marked = exact_table_cql("ks", "t", md5_keys=True)
    assert MD5_KEYS_MARK not in plain
    assert f"comment = 'cassandra-llm-cache exact cache {MD5_KEYS_MARK}'" in marked
    info = _info({"namespace": "text"}, ("namespace",))
    assert not uses_md5_keys(info)
    assert uses_md5_keys(TableInfo(columns={}, partition_key=(), comment=f"x {MD5_KEYS_MARK}"))
