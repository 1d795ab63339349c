"""CQL text: identifier validation and quoting, DDL, and every statement the caches run (pure).

Keyspace and table names follow CQL's rules for *unquoted* identifiers - a letter, then letters,
digits or underscores, at most 48 characters - and, like unquoted identifiers, are
case-insensitive: ``MyCache`` names the table ``mycache``, as it did for the legacy cache. They
are then always emitted quoted, so names that happen to be CQL keywords work too. Anything else
raises :class:`ConfigurationError` (a ``ValueError``) before a byte reaches the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from cassandra_llm_cache._errors import ConfigurationError

_IDENTIFIER: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")
_REPLICATION_KEY: Final = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def identifier(name: object, what: str) -> str:
    """``name`` validated as an unquoted CQL identifier, normalised to lower case."""
    if not isinstance(name, str) or _IDENTIFIER.fullmatch(name) is None:
        shown = repr(name)[:60] if isinstance(name, str) else type(name).__name__
        msg = (
            f"invalid {what} {shown}: use 1-48 characters, a letter first, then letters, "
            "digits or underscores"
        )
        raise ConfigurationError(msg)
    return name.lower()


def quote(name: str) -> str:
    """A validated identifier, double-quoted."""
    return f'"{name}"'


def qualified(keyspace: str, table: str) -> str:
    """``"keyspace"."table"`` for validated identifiers."""
    return f"{quote(keyspace)}.{quote(table)}"


def _string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def replication_cql(replication: Mapping[str, object]) -> str:
    """A CQL replication map, e.g. ``{'class': 'SimpleStrategy', 'replication_factor': '1'}``."""
    if not isinstance(replication, Mapping) or "class" not in replication:
        msg = (
            "keyspace_replication must be a mapping with a 'class', e.g. "
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
        )
        raise ConfigurationError(msg)
    parts = []
    for key, value in replication.items():
        if not isinstance(key, str) or _REPLICATION_KEY.fullmatch(key) is None:
            raise ConfigurationError(f"invalid replication option name {key!r}")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigurationError(f"replication option {key!r} must be a string or an integer")
        parts.append(f"{_string_literal(key)}: {_string_literal(str(value))}")
    return "{" + ", ".join(parts) + "}"


def create_keyspace_cql(keyspace: str, replication: Mapping[str, object]) -> str:
    return (
        f"CREATE KEYSPACE IF NOT EXISTS {quote(keyspace)} "
        f"WITH replication = {replication_cql(replication)}"
    )


@dataclass(frozen=True)
class TableInfo:
    """What the server says a table looks like (from driver metadata or ``system_schema``)."""

    columns: Mapping[str, str]
    """Column name -> CQL type, e.g. ``{"body": "blob"}``."""
    partition_key: tuple[str, ...]
    clustering_key: tuple[str, ...] = ()
    indexes: Mapping[str, str] = field(default_factory=dict)
    """Index name -> its target column (as the server reports it)."""
    comment: str = ""
    """The table's ``comment`` option (marks, e.g., an exact table keyed with md5)."""


class Layout(Enum):
    """How an exact-cache table stores its entries."""

    EXACT = "exact"
    """This package's layout: one partition per (namespace, llm hash, prompt hash)."""
    LEGACY = "legacy"
    """The cassio layout of langchain_community's CassandraCache (key_desc, key_vals, body_blob)."""


# --- the exact cache's own table --------------------------------------------------------------

EXACT_COLUMNS: Final = {
    "namespace": "text",
    "llm_key": "blob",
    "prompt_key": "blob",
    "body": "blob",
    "llm_string": "text",
    "prompt": "text",
}
EXACT_PARTITION_KEY: Final = ("namespace", "llm_key", "prompt_key")
LEGACY_COLUMNS: Final = {"key_desc": "text", "key_vals": "text", "body_blob": "text"}
LEGACY_PARTITION_KEY: Final = ("key_desc", "key_vals")

# Options for a table of TTL'd, write-once, read-many entries, each in its own partition.
EXACT_TABLE_OPTIONS: Final = (
    # Unified compaction, tiered (T4): low write amplification for write-once data, and whole
    # SSTables of expired entries are dropped. Unlike TimeWindowCompactionStrategy it does not
    # degrade when entries carry different TTLs (per-call TTLs) or none at all.
    "compaction = {'class': 'UnifiedCompactionStrategy', 'scaling_parameters': 'T4'}",
    # Tombstones (expired entries, explicit deletes, per-model clears) are purged after 3 hours
    # instead of 10 days. Expired TTL data cannot resurrect; a delete missed by a replica that
    # stayed down longer than the hint window (3 h by default) could: for a cache, at worst
    # an entry deleted on purpose comes back once. Run repair within this window if that matters.
    "gc_grace_seconds = 10800",
    # Misses are common in a cache: a tighter Bloom filter keeps them off the disk. It costs ~1.8
    # bytes of memory per entry instead of ~1.2 (0.01, the default).
    "bloom_filter_fp_chance = 0.001",
    # Key cache on, row cache off: values are already compact, and the row cache would duplicate
    # them on the heap (it is also disabled server-wide by default).
    "caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}",
    # 4 KiB compression chunks instead of 16: a point read decompresses less around its entry.
    "compression = {'class': 'LZ4Compressor', 'chunk_length_in_kb': 4}",
)
EXACT_TABLE_COMMENT: Final = "cassandra-llm-cache exact cache"
MD5_KEYS_MARK: Final = "(md5 keys)"
"""In a table's comment: its keys are md5 digests, as in the legacy layout (a table filled by
migrating legacy entries, whose SHA-256 keys cannot be recomputed without the plaintext)."""


def exact_table_cql(keyspace: str, table: str, *, md5_keys: bool = False) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the exact cache's layout (md5-keyed if asked)."""
    columns = ",\n".join(f"    {name} {cql_type}" for name, cql_type in EXACT_COLUMNS.items())
    comment = f"{EXACT_TABLE_COMMENT} {MD5_KEYS_MARK}" if md5_keys else EXACT_TABLE_COMMENT
    options = "\n    AND ".join((*EXACT_TABLE_OPTIONS, f"comment = {_string_literal(comment)}"))
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(keyspace, table)} (\n{columns},\n"
        f"    PRIMARY KEY (({', '.join(EXACT_PARTITION_KEY)}))\n) WITH {options}"
    )


def legacy_table_cql(keyspace: str, table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the legacy layout, exactly as cassio creates it for
    ``langchain_community``'s CassandraCache: the same columns, types and primary key and no
    table options, so the old class finds the table it would have created itself."""
    columns = ", ".join(f"{name} {cql_type}" for name, cql_type in LEGACY_COLUMNS.items())
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(keyspace, table)} ({columns}, "
        f"PRIMARY KEY (({', '.join(LEGACY_PARTITION_KEY)})))"
    )


# Statement templates: `<table>` becomes the quoted, validated table name; values are always bound.
EXACT_STATEMENTS: Final = {
    "select": "SELECT body FROM <table> WHERE namespace = ? AND llm_key = ? AND prompt_key = ?",
    "insert": (
        "INSERT INTO <table> (namespace, llm_key, prompt_key, body) VALUES (?, ?, ?, ?) USING TTL ?"
    ),
    "insert_plaintext": (
        "INSERT INTO <table> (namespace, llm_key, prompt_key, body, llm_string, prompt) "
        "VALUES (?, ?, ?, ?, ?, ?) USING TTL ?"
    ),
    "delete": "DELETE FROM <table> WHERE namespace = ? AND llm_key = ? AND prompt_key = ?",
    "truncate": "TRUNCATE TABLE <table>",
    # Per-namespace and per-model clears scan partition keys on the server (no index: an index
    # would tax every write to speed up a rare administrative call).
    "scan_namespace": "SELECT llm_key, prompt_key FROM <table> WHERE namespace = ? ALLOW FILTERING",
    "scan_model": (
        "SELECT prompt_key FROM <table> WHERE namespace = ? AND llm_key = ? ALLOW FILTERING"
    ),
}
LEGACY_STATEMENTS: Final = {
    "select": "SELECT body_blob FROM <table> WHERE key_desc = ? AND key_vals = ?",
    "insert": "INSERT INTO <table> (key_desc, key_vals, body_blob) VALUES (?, ?, ?) USING TTL ?",
    "delete": "DELETE FROM <table> WHERE key_desc = ? AND key_vals = ?",
    "truncate": "TRUNCATE TABLE <table>",
    "scan": "SELECT key_desc, key_vals FROM <table>",
}


def render(templates: Mapping[str, str], keyspace: str, table: str) -> dict[str, str]:
    """Statement templates with ``<table>`` replaced by the qualified, quoted table name."""
    name = qualified(keyspace, table)
    return {key: template.replace("<table>", name) for key, template in templates.items()}


def exact_statements(keyspace: str, table: str) -> dict[str, str]:
    """Every statement the exact cache runs on its own layout, by name."""
    return render(EXACT_STATEMENTS, keyspace, table)


def legacy_statements(keyspace: str, table: str) -> dict[str, str]:
    """Every statement the exact cache runs on a legacy (cassio) table, by name."""
    return render(LEGACY_STATEMENTS, keyspace, table)


def detect_exact_layout(info: TableInfo, *, where: str) -> Layout:
    """Which layout an existing table has; :class:`ConfigurationError` if it is neither."""
    if _has_columns(info, LEGACY_COLUMNS) and info.partition_key == LEGACY_PARTITION_KEY:
        return Layout.LEGACY
    required = {name: EXACT_COLUMNS[name] for name in (*EXACT_PARTITION_KEY, "body")}
    if _has_columns(info, required) and info.partition_key == EXACT_PARTITION_KEY:
        return Layout.EXACT
    columns = ", ".join(sorted(info.columns))
    msg = (
        f"table {where} exists but is not an LLM cache table (columns: {columns}); "
        "choose another table_name"
    )
    raise ConfigurationError(msg)


def uses_md5_keys(info: TableInfo) -> bool:
    """Whether an exact-layout table is keyed with md5 digests (see :data:`MD5_KEYS_MARK`)."""
    return MD5_KEYS_MARK in info.comment


def _has_columns(info: TableInfo, expected: Mapping[str, str]) -> bool:
    return all(info.columns.get(name) == cql_type for name, cql_type in expected.items())


# --- the near cache: remaining TTLs, and the invalidation epochs ------------------------------

_SELECT_ONE_COLUMN: Final = re.compile(r"SELECT (?P<column>[a-z_][a-z0-9_]*) FROM ")


def select_with_ttl(cql: str) -> str:
    """A one-column primary-key ``SELECT`` that also returns the column's remaining TTL.

    ``SELECT body FROM ...`` becomes ``SELECT body, TTL(body) FROM ...``: the near cache keeps a
    value no longer than Cassandra would (``TTL()`` is ``null`` for a value without one).
    """
    match = _SELECT_ONE_COLUMN.match(cql)
    if match is None:
        raise ValueError("not a one-column SELECT")  # a programming error, never user input
    column = match["column"]
    rest = cql[match.end() :]
    return f"SELECT {column}, TTL({column}) FROM {rest}"  # noqa: S608 - our own statement's text


EPOCHS_TABLE: Final = "llm_cache_epochs"
"""The table, in each cache's keyspace, whose rows deletes and clears bump (near caches read it)."""
EPOCHS_COMMENT: Final = "cassandra-llm-cache near-cache invalidation epochs"
TABLE_SCOPE: Final = "table"
"""The epoch row of a whole table (bumped by a TRUNCATE); a namespace's row is ``ns:<name>``."""


def namespace_scope(namespace: str) -> str:
    """The epoch row of one namespace of a table."""
    return f"ns:{namespace}"


def epochs_table_cql(keyspace: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for the epochs table: one partition per cache table, one
    row per scope (the table, each namespace), holding the ``timeuuid`` of its last change."""
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(keyspace, EPOCHS_TABLE)} (\n"
        "    table_name text,\n    scope text,\n    epoch timeuuid,\n"
        "    PRIMARY KEY ((table_name), scope)\n"
        f") WITH comment = {_string_literal(EPOCHS_COMMENT)}"
    )


EPOCH_STATEMENTS: Final = {
    # Both scopes of one cache (its table's row and its namespace's) in one partition read.
    "epoch_read": "SELECT scope, epoch FROM <table> WHERE table_name = ? AND scope IN (?, ?)",
    # A fresh timeuuid: readers compare it for equality only, so clocks never matter.
    "epoch_bump": "UPDATE <table> SET epoch = now() WHERE table_name = ? AND scope = ?",
}


def epoch_statements(keyspace: str) -> dict[str, str]:
    """The epoch read and the epoch bump, on the epochs table of ``keyspace``."""
    return render(EPOCH_STATEMENTS, keyspace, EPOCHS_TABLE)
