"""cassandra-llm-cache: LLM response caches for LangChain on Apache Cassandra.

The public API is ``__all__``. Names are imported on first use, so that the command line and
``import cassandra_llm_cache._errors`` do not pay for the driver and LangChain imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cassandra_llm_cache._errors import (
    CacheOperationError,
    CassandraLLMCacheError,
    CoalescedCallError,
    ConfigurationError,
    LocalServerError,
    SessionNotConfiguredError,
    SetupError,
)
from cassandra_llm_cache._version import __version__

if TYPE_CHECKING:
    from cassandra_llm_cache._policy.latency import LatencySummary
    from cassandra_llm_cache._policy.resilience import BreakerState, CircuitBreaker, ErrorPolicy
    from cassandra_llm_cache._policy.stats import CacheStats
    from cassandra_llm_cache._policy.telemetry import Telemetry
    from cassandra_llm_cache._storage.connection import init
    from cassandra_llm_cache._storage.setup import SetupMode
    from cassandra_llm_cache.embeddings import LocalEmbeddings
    from cassandra_llm_cache.exact import CassandraCache
    from cassandra_llm_cache.near import NearCache
    from cassandra_llm_cache.semantic import (
        AdaptiveLookup,
        CassandraSemanticCache,
        SemanticCacheStats,
        SemanticCandidate,
        SemanticHit,
    )
    from cassandra_llm_cache.streaming import CachedChatModel, CachedLLM, LearningStats

_LAZY = {
    "AdaptiveLookup": "cassandra_llm_cache.semantic",
    "BreakerState": "cassandra_llm_cache._policy.resilience",
    "CacheStats": "cassandra_llm_cache._policy.stats",
    "CachedChatModel": "cassandra_llm_cache.streaming",
    "CachedLLM": "cassandra_llm_cache.streaming",
    "CassandraCache": "cassandra_llm_cache.exact",
    "CassandraSemanticCache": "cassandra_llm_cache.semantic",
    "CircuitBreaker": "cassandra_llm_cache._policy.resilience",
    "ErrorPolicy": "cassandra_llm_cache._policy.resilience",
    "LatencySummary": "cassandra_llm_cache._policy.latency",
    "LearningStats": "cassandra_llm_cache.streaming",
    "LocalEmbeddings": "cassandra_llm_cache.embeddings",
    "NearCache": "cassandra_llm_cache.near",
    "SemanticCacheStats": "cassandra_llm_cache.semantic",
    "SemanticCandidate": "cassandra_llm_cache.semantic",
    "SemanticHit": "cassandra_llm_cache.semantic",
    "SetupMode": "cassandra_llm_cache._storage.setup",
    "Telemetry": "cassandra_llm_cache._policy.telemetry",
    "init": "cassandra_llm_cache._storage.connection",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cassandra_llm_cache' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AdaptiveLookup",
    "BreakerState",
    "CacheOperationError",
    "CacheStats",
    "CachedChatModel",
    "CachedLLM",
    "CassandraCache",
    "CassandraLLMCacheError",
    "CassandraSemanticCache",
    "CircuitBreaker",
    "CoalescedCallError",
    "ConfigurationError",
    "ErrorPolicy",
    "LatencySummary",
    "LearningStats",
    "LocalEmbeddings",
    "LocalServerError",
    "NearCache",
    "SemanticCacheStats",
    "SemanticCandidate",
    "SemanticHit",
    "SessionNotConfiguredError",
    "SetupError",
    "SetupMode",
    "Telemetry",
    "__version__",
    "init",
]
