"""What a cache table is and holds: its layout, options, entry count, size on disk and TTLs.

Everything is read from the server's schema and system tables with plain queries; nothing here
writes. Size estimates and disk usage are node-local system tables, so they are read from every
node and added up.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from cassandra.query import SimpleStatement

from cassandra_llm_cache._errors import CacheOperationError, ConfigurationError
from cassandra_llm_cache._storage.cql import (
    Layout,
    TableInfo,
    detect_exact_layout,
    exact_table_cql,
    legacy_table_cql,
    qualified,
    uses_md5_keys,
)
from cassandra_llm_cache._storage.rows import row_values
from cassandra_llm_cache._storage.store import DRIVER_ERRORS
from cassandra_llm_cache.admin._records import KeyHash

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cassandra.cluster import Session

    from cassandra_llm_cache.admin._ranges import TokenRange

SCHEMA_TIMEOUT: Final = 20.0
TTL_SAMPLE: Final = 1000
SHOWN_OPTIONS: Final = (
    "comment",
    "compaction",
    "compression",
    "caching",
    "bloom_filter_fp_chance",
    "gc_grace_seconds",
    "default_time_to_live",
    "speculative_retry",
)


class TableKind(str, Enum):
    """Which cache a table belongs to."""

    EXACT = "exact"
    """This package's exact cache."""
    LEGACY = "legacy"
    """``langchain_community``'s CassandraCache (cassio layout)."""
    SEMANTIC = "semantic"
    """This package's semantic cache."""
    LEGACY_SEMANTIC = "legacy semantic"
    """``langchain_community``'s CassandraSemanticCache (cassio's metadata vector table): it
    can only be migrated (``migrate``), since its keys and values are not this package's."""


_MD5_KINDS: Final = frozenset({TableKind.LEGACY, TableKind.LEGACY_SEMANTIC})


@dataclass(frozen=True)
class TableDescription:
    keyspace: str
    table: str
    kind: TableKind
    info: TableInfo
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def qualified(self) -> str:
        return qualified(self.keyspace, self.table)

    @property
    def key_hash(self) -> KeyHash:
        """How this table's keys are derived from model strings and prompts."""
        if self.kind in _MD5_KINDS or uses_md5_keys(self.info):
            return KeyHash.MD5
        return KeyHash.SHA256

    @property
    def value_column(self) -> str:
        return "body_blob" if self.kind in _MD5_KINDS else "body"

    def require_entries(self, command: str) -> None:
        """Refuse a command that reads or writes single entries on a legacy semantic table."""
        if self.kind is TableKind.LEGACY_SEMANTIC:
            msg = (
                f"{command}: {self.where} is a table of langchain_community's semantic cache; "
                "copy it into this package's semantic layout with `migrate` first"
            )
            raise ConfigurationError(msg)

    @property
    def partition_key(self) -> tuple[str, ...]:
        return self.info.partition_key


def _query(session: Session, cql: str, values: tuple[Any, ...] = (), **kwargs: Any) -> list[Any]:
    try:
        return list(session.execute(SimpleStatement(cql), values, timeout=SCHEMA_TIMEOUT, **kwargs))
    except DRIVER_ERRORS as exc:
        raise CacheOperationError(f"{type(exc).__name__}: {str(exc)[:300]}") from exc


def read_info(session: Session, keyspace: str, table: str) -> tuple[TableInfo, dict[str, Any]]:
    """The table's columns, keys, indexes and options; ConfigurationError if it is missing."""
    from cassandra_llm_cache._storage.setup import _info_from_rows

    where = (keyspace, table)
    options = _query(
        session,
        "SELECT * FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        where,
    )
    if not options:
        if not _query(
            session,
            "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = %s",
            (keyspace,),
        ):
            raise ConfigurationError(f"keyspace {keyspace!r} does not exist")
        raise ConfigurationError(f"table {keyspace}.{table} does not exist")
    columns = _query(
        session,
        "SELECT column_name, kind, position, type FROM system_schema.columns "
        "WHERE keyspace_name = %s AND table_name = %s",
        where,
    )
    indexes = _query(
        session,
        "SELECT index_name, options FROM system_schema.indexes "
        "WHERE keyspace_name = %s AND table_name = %s",
        where,
    )
    values = options[0]._asdict()
    info = _info_from_rows(columns, indexes, comment=str(values.get("comment") or ""))
    assert info is not None
    return info, {name: _plain(values[name]) for name in SHOWN_OPTIONS if name in values}


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


def describe(session: Session, keyspace: str, table: str) -> TableDescription:
    """What ``keyspace.table`` is; ConfigurationError if it is missing or not a cache table."""
    info, options = read_info(session, keyspace, table)
    return TableDescription(keyspace, table, kind_of(info, f"{keyspace}.{table}"), info, options)


def kind_of(info: TableInfo, where: str) -> TableKind:
    from cassandra_llm_cache._semantic.cql import (
        VECTOR_COLUMN,
        is_legacy_semantic,
        legacy_dimension,
        table_dimension,
    )

    if is_legacy_semantic(info):
        legacy_dimension(info, where=where)  # raises if the vector column is not one
        return TableKind.LEGACY_SEMANTIC
    if VECTOR_COLUMN in info.columns:
        table_dimension(info, where=where)  # raises if it is not a semantic cache table
        return TableKind.SEMANTIC
    layout = detect_exact_layout(info, where=where)
    return TableKind.LEGACY if layout is Layout.LEGACY else TableKind.EXACT


# --- size --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeEstimate:
    partitions: int
    """Entries, estimated by the nodes (refreshed every few minutes; 0 for a new table)."""
    mean_partition_bytes: int
    disk_bytes: int | None
    """Bytes on disk over all replicas (``system_views.disk_usage``); None if unavailable."""


def size_estimate(session: Session, keyspace: str, table: str) -> SizeEstimate:
    """Estimates from ``system.size_estimates`` and disk usage, added up over every node."""
    partitions = 0
    weighted = 0
    disk: int | None = 0
    for host in _hosts(session):
        rows = _query(
            session,
            "SELECT partitions_count, mean_partition_size FROM system.size_estimates "
            "WHERE keyspace_name = %s AND table_name = %s",
            (keyspace, table),
            host=host,
        )
        for row in rows:
            count, mean = row_values(row)
            partitions += count or 0
            weighted += (count or 0) * (mean or 0)
        try:
            usage = _query(
                session,
                "SELECT mebibytes FROM system_views.disk_usage "
                "WHERE keyspace_name = %s AND table_name = %s",
                (keyspace, table),
                host=host,
            )
        except CacheOperationError:
            disk = None  # no virtual tables (e.g. Astra DB, older servers)
        else:
            if disk is not None:
                disk += sum((row_values(row)[0] or 0) for row in usage) * 1024 * 1024
    mean_bytes = weighted // partitions if partitions else 0
    return SizeEstimate(partitions=partitions, mean_partition_bytes=mean_bytes, disk_bytes=disk)


def _hosts(session: Session) -> list[Any]:
    hosts = [host for host in session.cluster.metadata.all_hosts() if host.is_up]
    return hosts or [None]


@dataclass(frozen=True)
class TtlSample:
    """Remaining TTLs of a sample of entries (the first ones in token order)."""

    sampled: int
    with_ttl: int
    min_seconds: int | None = None
    median_seconds: int | None = None
    max_seconds: int | None = None


def ttl_sample(
    description: TableDescription, session: Session, limit: int = TTL_SAMPLE
) -> TtlSample:
    column = description.value_column
    rows = _query(
        session,
        f"SELECT TTL({column}) FROM {description.qualified} LIMIT {int(limit)}",  # noqa: S608 - validated identifiers
    )
    ttls = [value for (value,) in (row_values(row) for row in rows) if value is not None]
    if not ttls:
        return TtlSample(sampled=len(rows), with_ttl=0)
    return TtlSample(
        sampled=len(rows),
        with_ttl=len(ttls),
        min_seconds=min(ttls),
        median_seconds=int(statistics.median(ttls)),
        max_seconds=max(ttls),
    )


def count_entries(session: Session, description: TableDescription, *, concurrency: int) -> int:
    """The exact number of entries: ``COUNT(*)`` over 16 token ranges read in parallel."""
    from cassandra_llm_cache._storage.connection import cache_profile
    from cassandra_llm_cache.admin import _scan
    from cassandra_llm_cache.admin._ranges import split_ring

    token = f"token({', '.join(description.partition_key)})"
    statement = session.prepare(
        f"SELECT COUNT(*) FROM {description.qualified} "  # noqa: S608 - validated identifiers
        f"WHERE {token} > ? AND {token} <= ?"
    )
    counter = _Total()
    _scan.scan(
        session,
        statement,
        split_ring(16),
        counter,
        profile=cache_profile(session),
        concurrency=concurrency,
        where=description.where,
    )
    return counter.total


class _Total:
    """The scan sink of a count: adds up each range's COUNT(*)."""

    def __init__(self) -> None:
        self.total = 0

    def page(self, token_range: TokenRange, rows: Sequence[Any]) -> None:
        del token_range
        self.total += sum(row_values(row)[0] for row in rows)

    def finished(self, token_range: TokenRange) -> None:
        del token_range


# --- creating target tables -------------------------------------------------------------------


def create_table_cql(keyspace: str, table: str, *, layout: str, key_hash: str) -> list[str]:
    """DDL for a new target table: this package's exact layout, or the legacy one."""
    if layout == "legacy":
        if key_hash == KeyHash.SHA256.value:
            raise ConfigurationError("a legacy table is always keyed with md5")
        return [legacy_table_cql(keyspace, table)]
    if key_hash == KeyHash.MD5.value:
        return [exact_table_cql(keyspace, table, md5_keys=True)]
    return [exact_table_cql(keyspace, table)]
