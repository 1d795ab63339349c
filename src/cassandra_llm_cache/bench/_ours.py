"""This project's caches, set up for the benchmark."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
from cassandra_llm_cache.bench._scenario import OURS

if TYPE_CHECKING:
    from cassandra_llm_cache.bench._node import Node


def exact(
    node: Node, ttl_seconds: int, concurrencies: tuple[int, ...], stem: str = "ours"
) -> CacheSubject:
    """``cassandra_llm_cache.CassandraCache`` on a fresh table (ImportError until it exists)."""
    from cassandra_llm_cache import CassandraCache  # type: ignore[attr-defined, unused-ignore]

    cache = CassandraCache(
        session=node.session,
        keyspace=node.keyspace,
        table_name=node.table_name(stem),
        ttl_seconds=ttl_seconds,
    )

    return CacheSubject(OURS, cache, concurrencies=concurrencies, tables=(node.table(stem),))


def table_options() -> str:
    """The exact cache's table options, so the raw floor reads a table configured alike."""
    try:
        from cassandra_llm_cache._cql import EXACT_TABLE_OPTIONS
    except ImportError:
        return ""
    return " AND ".join(
        option for option in EXACT_TABLE_OPTIONS if not option.startswith("comment")
    )
