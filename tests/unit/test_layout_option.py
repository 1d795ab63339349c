"""``CassandraCache(layout=...)``: checked before anything reaches a server (pure)."""

from __future__ import annotations

import pytest

from cassandra_llm_cache import CassandraCache, ConfigurationError
from cassandra_llm_cache._policy.arguments import check_layout
from cassandra_llm_cache._storage.cql import (
    LEGACY_COLUMNS,
    exact_table_cql,
    legacy_table_cql,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("auto", "auto"), ("exact", "exact"), ("legacy", "legacy"), (" Legacy ", "legacy")],
)
def test_the_three_layouts_are_accepted_in_any_case(given, expected):
    assert check_layout(given) == expected


@pytest.mark.parametrize("given", ["", "native", "cassio", "legacy2", None, 1, True, b"legacy"])
def test_anything_else_is_a_configuration_error(given):
    with pytest.raises(ConfigurationError, match="layout must be 'auto', 'exact' or 'legacy'"):
        check_layout(given)


def test_the_legacy_layout_refuses_namespaces_and_plaintext():
    with pytest.raises(ConfigurationError, match="has no namespace: drop namespace"):
        check_layout("legacy", namespace="tenant")
    with pytest.raises(ConfigurationError, match="has no store_plaintext"):
        check_layout("legacy", store_plaintext=True)
    assert check_layout("exact", namespace="tenant", store_plaintext=True) == "exact"
    assert check_layout("auto", namespace="tenant", store_plaintext=True) == "auto"


def test_the_constructor_refuses_a_bad_layout_before_resolving_a_session():
    # No session and no init(): the argument is checked first, so this is not a
    # SessionNotConfiguredError.
    with pytest.raises(ConfigurationError, match="layout must be") as info:
        CassandraCache(layout="native")
    assert type(info.value) is ConfigurationError
    with pytest.raises(ConfigurationError, match="layout='legacy'"):
        CassandraCache(layout="legacy", namespace="tenant")


def test_the_legacy_ddl_is_cassios_table():
    ddl = legacy_table_cql("ks", "t")
    assert ddl == (
        'CREATE TABLE IF NOT EXISTS "ks"."t" (key_desc text, key_vals text, body_blob text, '
        "PRIMARY KEY ((key_desc, key_vals)))"
    )
    assert all(f"{name} {cql_type}" in ddl for name, cql_type in LEGACY_COLUMNS.items())
    assert " WITH " not in ddl  # cassio sets no table options


def test_schema_cql_prints_the_ddl_of_the_requested_layout():
    assert (
        CassandraCache.schema_cql("ks", "t", layout="legacy") == legacy_table_cql("ks", "t") + ";\n"
    )
    exact = exact_table_cql("ks", "t") + ";\n"
    assert CassandraCache.schema_cql("ks", "t", layout="exact") == exact
    assert CassandraCache.schema_cql("ks", "t") == exact
    with pytest.raises(ConfigurationError, match="layout must be"):
        CassandraCache.schema_cql("ks", "t", layout="cassio")
