"""The semantic table's pure parts: DDL, ids, vector checks, what servers without vectors say."""

from __future__ import annotations

import math

import pytest

from cassandra_llm_cache._errors import ConfigurationError, SetupError
from cassandra_llm_cache._semantic.cql import (
    NEEDS_CASSANDRA_5,
    check_dimension,
    check_indexes,
    document_id,
    explain_setup_failure,
    parse_document_id,
    scope,
    semantic_index_cql,
    semantic_statements,
    semantic_table_cql,
    table_dimension,
    usable_vector,
)
from cassandra_llm_cache._semantic.similarity import MEASURES
from cassandra_llm_cache._storage.cql import TableInfo
from cassandra_llm_cache._values.keys import sha256_key

# What Apache Cassandra 4.x answered to cassio's CREATE TABLE with a vector column, verbatim
# (CassioML/cassio issue #160, a user's local Docker node).
CASSANDRA_4_CREATE_TABLE = (
    '<Error from server: code=2000 [Syntax error in CQL query] message="line 1:110 mismatched '
    "input '<' expecting ')' (...,   body_blob TEXT,   vector VECTOR[<]...)\">"
)


def test_a_server_without_the_vector_type_gets_a_clear_error():
    error = explain_setup_failure(Exception(CASSANDRA_4_CREATE_TABLE))
    assert isinstance(error, SetupError)
    assert "Apache Cassandra 5.0+" in str(error)
    assert NEEDS_CASSANDRA_5 in str(error)


@pytest.mark.parametrize(
    "index_class",
    ["StorageAttachedIndex", "org.apache.cassandra.index.sai.StorageAttachedIndex"],
)
def test_a_server_without_sai_gets_the_same_error(index_class):
    # Cassandra's message for an unknown index class (the text its own tests assert).
    text = f"Unable to find custom indexer class '{index_class}'"
    assert "5.0+" in str(explain_setup_failure(Exception(text)))


@pytest.mark.parametrize(
    "text",
    [
        "Keyspace llm_cache_tests does not exist",
        "line 1:75 mismatched input '<' expecting ')' (...int PRIMARY KEY, v vectr[<]...)",
        "Unauthorized: User x has no CREATE permission",
    ],
)
def test_other_failures_are_left_alone(text):
    assert explain_setup_failure(Exception(text)) is None


def test_table_ddl_has_the_vector_column_and_both_indexes():
    ddl = semantic_table_cql("ks", "t", 384)
    assert 'CREATE TABLE IF NOT EXISTS "ks"."t"' in ddl
    assert "embedding vector<float, 384>" in ddl
    assert "PRIMARY KEY ((namespace, llm_key, prompt_key))" in ddl
    vectors, scopes = semantic_index_cql("ks", "t", MEASURES["dot"])
    assert "'similarity_function': 'DOT_PRODUCT'" in vectors
    assert '"t_embedding_dot"' in vectors
    assert "(scope)" in scopes


def test_search_ranks_and_scores_with_one_function():
    search = semantic_statements("ks", "t", MEASURES["l2"])["search"]
    assert "similarity_euclidean(embedding, ?)" in search
    assert "WHERE scope = ? ORDER BY embedding ANN OF ? LIMIT ?" in search


def _info(**columns: str) -> TableInfo:
    base = {
        "namespace": "text",
        "llm_key": "blob",
        "prompt_key": "blob",
        "scope": "text",
        "body": "blob",
        "embedding": "vector<float, 16>",
    }
    return TableInfo(
        columns={**base, **columns}, partition_key=("namespace", "llm_key", "prompt_key")
    )


def test_table_dimension_is_read_from_the_column_type():
    assert table_dimension(_info(), where="ks.t") == 16


@pytest.mark.parametrize("columns", [{"embedding": "list<float>"}, {"body": "text"}])
def test_foreign_tables_are_refused(columns):
    with pytest.raises(ConfigurationError, match="not a semantic cache table"):
        table_dimension(_info(**columns), where="ks.t")


def test_a_legacy_semantic_table_is_named_as_such():
    legacy = TableInfo(
        columns={
            "row_id": "text",
            "body_blob": "text",
            "vector": "vector<float, 16>",
            "attributes_blob": "text",
            "metadata_s": "map<text, text>",
        },
        partition_key=("row_id",),
    )
    with pytest.raises(ConfigurationError, match="langchain_community's CassandraSemanticCache"):
        table_dimension(legacy, where="ks.langchain_llm_semantic_cache")


def test_a_vector_index_of_another_measure_is_refused():
    info = TableInfo(
        columns={}, partition_key=(), indexes={"t_embedding_dot": "embedding", "t_scope": "scope"}
    )
    check_indexes(info, "t", MEASURES["dot"], where="ks.t")
    with pytest.raises(ConfigurationError, match="another similarity measure"):
        check_indexes(info, "t", MEASURES["cos"], where="ks.t")


@pytest.mark.parametrize("bad", [0, -1, 8193, 1.5, True, "384"])
def test_dimensions_are_checked(bad):
    with pytest.raises(ConfigurationError, match="embedding_dimension"):
        check_dimension(bad)


def test_usable_vector():
    assert usable_vector([1, 2], 2) == [1.0, 2.0]
    assert usable_vector([0.0, 0.0], 2) is None
    assert usable_vector([math.nan, 1.0], 2) is None
    assert usable_vector([math.inf, 1.0], 2) is None
    with pytest.raises(ConfigurationError, match="returned 3 numbers but the table holds 2"):
        usable_vector([1.0, 2.0, 3.0], 2)


def test_document_ids_round_trip():
    prompt_key, llm_key = sha256_key("prompt"), sha256_key("llm")
    assert parse_document_id(document_id(prompt_key, llm_key)) == (prompt_key, llm_key)


def test_scope_separates_namespaces_and_models():
    llm = sha256_key("model")
    assert scope("a", llm) != scope("b", llm)
    assert scope("a", llm) != scope("a", sha256_key("other"))
    assert scope("", llm) == scope("", llm)


def test_the_cache_explains_setup_failures_as_setup_reports_them():
    from cassandra_llm_cache.semantic import _explain

    wrapped = SetupError(f"setting up ks.t failed: SyntaxException: {CASSANDRA_4_CREATE_TABLE}")
    with pytest.raises(SetupError, match=r"Apache Cassandra 5\.0\+") as raised:
        _explain(wrapped)
    assert raised.value.__cause__ is wrapped
    _explain(SetupError("keyspace 'x' does not exist"))  # anything else is left as it is
