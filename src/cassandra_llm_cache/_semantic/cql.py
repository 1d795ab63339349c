"""The semantic cache's table, indexes and statements; vector checks; server errors (pure).

One partition per entry, keyed like the exact cache's (namespace, SHA-256 of the llm_string,
SHA-256 of the prompt; md5 in a table migrated from langchain_community, marked in its comment,
since that table keeps only the md5 of each llm_string), so an identical prompt is answered by a
primary-key read. Each entry
carries ``scope``, the hex digest of (namespace, llm_string, prompt context - see
``_semantic.prompt_text``), indexed by SAI next to the vectors: a search is the table's nearest
keys and scopes first, and the scope-filtered ANN query only when those cannot decide
(``_semantic.search``), so an entry of the same model and namespace is never hidden behind a
nearer entry of another, and one index serves them all. An entry whose prompt has no text to
compare has no vector: it is found by key only.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import TYPE_CHECKING, Final

from cassandra_llm_cache._errors import ConfigurationError, SetupError
from cassandra_llm_cache._storage.cql import (
    EXACT_TABLE_OPTIONS,
    MD5_KEYS_MARK,
    TableInfo,
    qualified,
    quote,
    render,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cassandra.cluster import Session

    from cassandra_llm_cache._semantic.similarity import Measure

VECTOR_COLUMN: Final = "embedding"
SEMANTIC_COLUMNS: Final = {
    "namespace": "text",
    "llm_key": "blob",
    "prompt_key": "blob",
    "scope": "text",
    "body": "blob",
    "guard": "text",
    "llm_string": "text",
    "prompt": "text",
}
SEMANTIC_PARTITION_KEY: Final = ("namespace", "llm_key", "prompt_key")
SEMANTIC_TABLE_COMMENT: Final = "cassandra-llm-cache semantic cache"
SEMANTIC_TABLE_OPTIONS: Final = tuple(
    option for option in EXACT_TABLE_OPTIONS if not option.startswith("comment")
)
MAX_DIMENSION: Final = 8192
# The columns of langchain_community's semantic cache table (cassio's metadata vector table).
LEGACY_SEMANTIC_COLUMNS: Final = frozenset(
    {"row_id", "body_blob", "vector", "attributes_blob", "metadata_s"}
)
_VECTOR_TYPE: Final = re.compile(r"vector<float,\s*(\d+)>")

NEEDS_CASSANDRA_5: Final = (
    "needs a server with vector search: Apache Cassandra 5.0+ (vector type and SAI indexes), "
    "or Astra DB"
)
# What servers without vector search answer: Cassandra 4.x to a vector column (a syntax error at
# the type's "<") and to an SAI index (its "custom indexer class" message). The tests hold the
# real texts.
_NO_VECTOR_SUPPORT: Final = (
    re.compile(r"mismatched input '<' expecting .*vector\s*\[<\]", re.IGNORECASE | re.DOTALL),
    re.compile(r"Unable to find custom indexer class .*StorageAttachedIndex", re.IGNORECASE),
)

SEMANTIC_STATEMENTS: Final = {
    "select": "SELECT body FROM <table> WHERE namespace = ? AND llm_key = ? AND prompt_key = ?",
    "insert": (
        "INSERT INTO <table> (namespace, llm_key, prompt_key, scope, embedding, body, guard) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?"
    ),
    "insert_plaintext": (
        "INSERT INTO <table> (namespace, llm_key, prompt_key, scope, embedding, body, guard, "
        "llm_string, prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
    ),
    "delete": "DELETE FROM <table> WHERE namespace = ? AND llm_key = ? AND prompt_key = ?",
    "truncate": "TRUNCATE TABLE <table>",
    "scan_namespace": "SELECT llm_key, prompt_key FROM <table> WHERE namespace = ? ALLOW FILTERING",
    "scan_model": (
        "SELECT prompt_key FROM <table> WHERE namespace = ? AND llm_key = ? ALLOW FILTERING"
    ),
    "fetch": (
        "SELECT prompt_key, body, guard, prompt FROM <table> "
        "WHERE namespace = ? AND llm_key = ? AND prompt_key IN ?"
    ),
}
_SEARCHES: Final = {
    # The whole table's nearest entries, keys and scopes only: no other entry's value is read.
    "search_window": (
        "SELECT prompt_key, scope, <function>(embedding, ?) FROM <table> "
        "ORDER BY embedding ANN OF ? LIMIT ?"
    ),
    # The nearest entries of one scope: exact, but on Cassandra 5.0 the filter costs tens of
    # milliseconds and grows with the table (see _semantic_search).
    "search": (
        "SELECT prompt_key, body, guard, prompt, <function>(embedding, ?) FROM <table> "
        "WHERE scope = ? ORDER BY embedding ANN OF ? LIMIT ?"
    ),
}


def vector_index_name(table: str, measure: Measure) -> str:
    return f"{table}_{VECTOR_COLUMN}_{measure.name}"


def scope_index_name(table: str) -> str:
    return f"{table}_scope"


def semantic_table_cql(keyspace: str, table: str, dimension: int, *, md5_keys: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a semantic cache with ``dimension``-long vectors.

    ``md5_keys``: the keys are md5 digests (marked in the comment), for entries migrated from
    langchain_community's table, which keeps only the md5 of each llm_string.
    """
    columns = {**SEMANTIC_COLUMNS, VECTOR_COLUMN: f"vector<float, {dimension}>"}
    body = ",\n".join(f"    {name} {cql_type}" for name, cql_type in columns.items())
    comment = f"{SEMANTIC_TABLE_COMMENT} {MD5_KEYS_MARK}" if md5_keys else SEMANTIC_TABLE_COMMENT
    options = "\n    AND ".join((*SEMANTIC_TABLE_OPTIONS, f"comment = '{comment}'"))
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(keyspace, table)} (\n{body},\n"
        f"    PRIMARY KEY (({', '.join(SEMANTIC_PARTITION_KEY)}))\n) WITH {options}"
    )


def semantic_index_cql(keyspace: str, table: str, measure: Measure) -> list[str]:
    """The two SAI indexes: the vectors (with the measure's similarity) and the scope."""
    target = qualified(keyspace, table)
    vectors = (
        f"CREATE CUSTOM INDEX IF NOT EXISTS {quote(vector_index_name(table, measure))} "
        f"ON {target} ({VECTOR_COLUMN}) USING 'StorageAttachedIndex' "
        f"WITH OPTIONS = {{'similarity_function': '{measure.index_function}'}}"
    )
    scopes = (
        f"CREATE CUSTOM INDEX IF NOT EXISTS {quote(scope_index_name(table))} "
        f"ON {target} (scope) USING 'StorageAttachedIndex'"
    )
    return [vectors, scopes]


def semantic_statements(keyspace: str, table: str, measure: Measure) -> dict[str, str]:
    """Every statement the semantic cache runs, by name."""
    templates = {
        **SEMANTIC_STATEMENTS,
        **{
            name: cql.replace("<function>", measure.cql_function) for name, cql in _SEARCHES.items()
        },
    }
    return render(templates, keyspace, table)


def table_dimension(info: TableInfo, *, where: str) -> int:
    """The vector length of an existing semantic-cache table; ConfigurationError if not one."""
    required = {name: SEMANTIC_COLUMNS[name] for name in (*SEMANTIC_PARTITION_KEY, "scope", "body")}
    found = _VECTOR_TYPE.fullmatch(info.columns.get(VECTOR_COLUMN, "").replace(" ", ""))
    if (
        found is None
        or info.partition_key != SEMANTIC_PARTITION_KEY
        or any(info.columns.get(name) != cql_type for name, cql_type in required.items())
    ):
        if is_legacy_semantic(info):
            msg = (
                f"table {where} was written by langchain_community's CassandraSemanticCache; "
                "its layout (plaintext prompts, md5 keys) is not served in place: pass another "
                "table_name, or drop that table (it only holds cached answers)"
            )
            raise ConfigurationError(msg)
        columns = ", ".join(sorted(info.columns))
        msg = (
            f"table {where} exists but is not a semantic cache table of this package "
            f"(columns: {columns}); choose another table_name"
        )
        raise ConfigurationError(msg)
    return int(found.group(1))


def is_legacy_semantic(info: TableInfo) -> bool:
    """Whether ``info`` is langchain_community's semantic cache table (cassio's layout)."""
    return set(info.columns) >= LEGACY_SEMANTIC_COLUMNS and info.partition_key == ("row_id",)


def legacy_dimension(info: TableInfo, *, where: str) -> int:
    """The vector length of a legacy semantic table (its ``vector`` column)."""
    found = _VECTOR_TYPE.fullmatch(info.columns.get("vector", "").replace(" ", ""))
    if found is None:
        raise ConfigurationError(f"table {where} has no vector<float, n> column 'vector'")
    return int(found.group(1))


def check_indexes(info: TableInfo, table: str, measure: Measure, *, where: str) -> None:
    """Refuse a table whose vector index ranks with another similarity than ``measure``."""
    wanted = vector_index_name(table, measure)
    for name, target in info.indexes.items():
        if target.strip('"') == VECTOR_COLUMN and name != wanted:
            msg = (
                f"table {where} already has a vector index ({name!r}) for another similarity "
                f"measure than {measure.name!r}: one table ranks with one measure; use that "
                "measure or another table"
            )
            raise ConfigurationError(msg)


def check_dimension(dimension: object) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, int):
        raise ConfigurationError("embedding_dimension must be an integer")
    if not 0 < dimension <= MAX_DIMENSION:
        raise ConfigurationError(f"embedding_dimension must be from 1 to {MAX_DIMENSION}")
    return dimension


def usable_vector(vector: Sequence[float], dimension: int) -> list[float] | None:
    """``vector`` as floats if the index can take it; None if it is all zeros or not finite.

    A vector of the wrong length is a configuration error (another model than the table's).
    """
    if len(vector) != dimension:
        msg = (
            f"the embedding returned {len(vector)} numbers but the table holds {dimension}: "
            "use the embedding model the table was created with, or another table"
        )
        raise ConfigurationError(msg)
    values = [float(x) for x in vector]
    if not all(math.isfinite(x) for x in values) or not any(values):
        return None
    return values


def scope(namespace: str, llm_key: bytes, context: str = "") -> str:
    """The ANN filter value: the hex digest of (namespace, llm_string's key, prompt context)."""
    digest = hashlib.sha256(namespace.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00" + llm_key + b"\x00")
    digest.update(hashlib.sha256(context.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def document_id(prompt_key: bytes, llm_key: bytes) -> str:
    """A hit's id, as ``lookup_with_id`` returns it: ``<prompt key>-<llm key>`` in hex."""
    return f"{prompt_key.hex()}-{llm_key.hex()}"


def parse_document_id(
    value: object, digest_size: int = hashlib.sha256().digest_size
) -> tuple[bytes, bytes]:
    """(prompt_key, llm_key) of a ``document_id``; ConfigurationError if it is not one.

    ``digest_size`` is 16 in a table keyed with md5 (migrated from langchain_community).
    """
    if isinstance(value, str):
        prompt_hex, _, llm_hex = value.partition("-")
        try:
            prompt_key, llm_key = bytes.fromhex(prompt_hex), bytes.fromhex(llm_hex)
        except ValueError:
            pass
        else:
            if len(prompt_key) == len(llm_key) == digest_size:
                return prompt_key, llm_key
    digits = digest_size * 2
    msg = f"not a document id of this cache (expected '<{digits} hex>-<{digits} hex>')"
    raise ConfigurationError(msg)


def explain_setup_failure(error: BaseException) -> SetupError | None:
    """A clear error for a server without vector search; None for any other failure."""
    text = str(error)
    if any(pattern.search(text) for pattern in _NO_VECTOR_SUPPORT):
        return SetupError(f"the semantic cache {NEEDS_CASSANDRA_5}; the server answered: {text}")
    return None


# --- error-bounded thresholds: each entry's observations (``_semantic.adaptive``) ---------------

OBSERVATIONS_SUFFIX: Final = "_observations"
OBSERVATIONS_TTL: Final = 30 * 24 * 3600
"""Observations expire after 30 days: old traffic stops speaking for an entry, and the table
cannot grow without bound."""
OBSERVATIONS_READ: Final = 1000
"""The newest observations of an entry one decision reads (enough for δ = 0.01 to be met);
the ``observations`` statement's LIMIT."""
OBSERVATIONS_COMMENT: Final = "cassandra-llm-cache semantic cache observations"
OBSERVATION_STATEMENTS: Final = {
    "observe": (
        "INSERT INTO <table> (namespace, llm_key, prompt_key, observed, similarity, correct) "
        "VALUES (?, ?, ?, now(), ?, ?)"
    ),
    "observations": (
        "SELECT similarity, correct FROM <table> "
        "WHERE namespace = ? AND llm_key = ? AND prompt_key = ? LIMIT 1000"
    ),
    # What keeps observations from vouching for an answer they were not about: an entry's
    # partition goes when the entry is deleted or rewritten, and clears take theirs with them.
    "observations_drop": (
        "DELETE FROM <table> WHERE namespace = ? AND llm_key = ? AND prompt_key = ?"
    ),
    "observations_truncate": "TRUNCATE TABLE <table>",
    # DISTINCT reads one row per partition (entry), however many observations it holds; it must
    # name every partition key column, hence the namespace in the result.
    "observations_scan_namespace": (
        "SELECT DISTINCT namespace, llm_key, prompt_key FROM <table> "
        "WHERE namespace = ? ALLOW FILTERING"
    ),
    "observations_scan_model": (
        "SELECT DISTINCT namespace, llm_key, prompt_key FROM <table> "
        "WHERE namespace = ? AND llm_key = ? ALLOW FILTERING"
    ),
}


def observations_table(table: str) -> str:
    """The observations table of the semantic table ``table`` (validated: at most 48 chars)."""
    name = f"{table}{OBSERVATIONS_SUFFIX}"
    if len(name) > 48:  # noqa: PLR2004 - the identifier limit of _storage.cql
        msg = (
            f"max_wrong_rate keeps observations in a table named '<table>{OBSERVATIONS_SUFFIX}', "
            f"which must fit in 48 characters: use a table_name of at most "
            f"{48 - len(OBSERVATIONS_SUFFIX)}"
        )
        raise ConfigurationError(msg)
    return name


def observations_table_cql(keyspace: str, table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the observations of ``table``'s entries: one partition
    per entry (its key), newest first, expiring after ``OBSERVATIONS_TTL``."""
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(keyspace, observations_table(table))} (\n"
        "    namespace text,\n    llm_key blob,\n    prompt_key blob,\n    observed timeuuid,\n"
        "    similarity double,\n    correct boolean,\n"
        "    PRIMARY KEY ((namespace, llm_key, prompt_key), observed)\n"
        ") WITH CLUSTERING ORDER BY (observed DESC)\n"
        f"    AND default_time_to_live = {OBSERVATIONS_TTL}\n"
        f"    AND comment = '{OBSERVATIONS_COMMENT}'"
    )


def observation_statements(keyspace: str, table: str) -> dict[str, str]:
    """The observation write, read, drop and clears, on the observations table of ``table``."""
    return render(OBSERVATION_STATEMENTS, keyspace, observations_table(table))


def observations_table_exists(session: Session, keyspace: str, table: str) -> bool:
    """Whether the driver's schema metadata shows the observations table of ``table``.

    False when metadata is off: then only a cache made with ``max_wrong_rate`` knows the table.
    """
    cluster = session.cluster
    if not cluster.schema_metadata_enabled:
        return False
    found = cluster.metadata.keyspaces.get(keyspace)
    # The raw name: a table name too long for one is no error here, the table just cannot exist.
    return found is not None and f"{table}{OBSERVATIONS_SUFFIX}" in found.tables
