"""The peers, built the way their users build them, on the same node / machine."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
from cassandra_llm_cache.bench._redis_server import start_redis
from cassandra_llm_cache.bench._scenario import IN_MEMORY, LEGACY, REDIS, SQLITE

if TYPE_CHECKING:
    from cassandra_llm_cache.bench._node import Node


def legacy_cassandra(node: Node, ttl_seconds: int, concurrencies: tuple[int, ...]) -> CacheSubject:
    """``langchain_community.cache.CassandraCache`` through ``cassio.init(session=, keyspace=)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # both announce their own sunset
        import cassio
        from langchain_community.cache import CassandraCache as LegacyCassandraCache

    cassio.init(session=node.session, keyspace=node.keyspace)
    cache = LegacyCassandraCache(
        session=node.session,
        keyspace=node.keyspace,
        table_name=node.table_name("legacy"),
        ttl_seconds=ttl_seconds,
    )
    return CacheSubject(LEGACY, cache, concurrencies=concurrencies, tables=(node.table("legacy"),))


def redis(ttl_seconds: int, concurrencies: tuple[int, ...]) -> CacheSubject:
    """``langchain_redis.RedisCache`` on a redis-server started here (raises if unavailable)."""
    from langchain_redis import RedisCache

    server = start_redis()
    try:
        cache: Any = RedisCache(redis_url=server.url, ttl=ttl_seconds, prefix="bench")
    except Exception:
        server.stop()
        raise

    def close() -> None:
        cache.redis.close()
        server.stop()

    note = f"{server.version.split(' sha=')[0]}, RedisJSON; async runs sync calls in threads"
    return CacheSubject(REDIS, cache, concurrencies=concurrencies, note=note, close=close)


def in_memory() -> CacheSubject:
    from langchain_core.caches import InMemoryCache

    return CacheSubject(IN_MEMORY, InMemoryCache(), note="in-process dict, reference only")


def sqlite() -> CacheSubject:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_community.cache import SQLiteCache

    workdir = tempfile.TemporaryDirectory(prefix="cllc-bench-sqlite-")
    cache = SQLiteCache(database_path=str(Path(workdir.name) / "cache.db"))

    def close() -> None:
        cache.engine.dispose()
        workdir.cleanup()

    return CacheSubject(SQLITE, cache, note="in-process file database, reference only", close=close)
