"""This project's caches, set up for the benchmark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
from cassandra_llm_cache.bench._scenario import OURS

if TYPE_CHECKING:
    from cassandra_llm_cache.bench._node import Node


# The raw floor and the legacy cache wait up to the driver's default request timeout and have no
# circuit breaker; this cache gives up after 1 s by default (a miss) and stops sending for a few
# seconds after 5 failures. Side by side, all get the same patience, or a queue of 128 requests
# on a busy machine would turn slow hits into misses; and failures raise, so a write that did
# not happen is retried by the fills and a measured operation that failed is reported as such.
DRIVER_DEFAULT_TIMEOUT = 10.0
SAME_FOOTING: dict[str, Any] = {
    "request_timeout": DRIVER_DEFAULT_TIMEOUT,
    "circuit_breaker": False,
    "on_error": "raise",
}


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
        **SAME_FOOTING,
    )

    return CacheSubject(OURS, cache, concurrencies=concurrencies, tables=(node.table(stem),))


def table_options() -> str:
    """The exact cache's table options, so the raw floor reads a table configured alike."""
    try:
        from cassandra_llm_cache._storage.cql import EXACT_TABLE_OPTIONS
    except ImportError:
        return ""
    return " AND ".join(
        option for option in EXACT_TABLE_OPTIONS if not option.startswith("comment")
    )
