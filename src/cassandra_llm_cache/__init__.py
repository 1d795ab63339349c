"""cassandra-llm-cache: LLM response caches for LangChain on Apache Cassandra."""

from cassandra_llm_cache._connection import init
from cassandra_llm_cache._errors import (
    CacheOperationError,
    CassandraLLMCacheError,
    ConfigurationError,
    LocalServerError,
    SessionNotConfiguredError,
    SetupError,
)
from cassandra_llm_cache._latency import LatencySummary
from cassandra_llm_cache._resilience import BreakerState, CircuitBreaker, ErrorPolicy
from cassandra_llm_cache._setup import SetupMode
from cassandra_llm_cache._stats import CacheStats
from cassandra_llm_cache._telemetry import Telemetry
from cassandra_llm_cache._version import __version__
from cassandra_llm_cache.embeddings import LocalEmbeddings
from cassandra_llm_cache.exact import CassandraCache
from cassandra_llm_cache.semantic import (
    CassandraSemanticCache,
    SemanticCacheStats,
    SemanticCandidate,
    SemanticHit,
)

__all__ = [
    "BreakerState",
    "CacheOperationError",
    "CacheStats",
    "CassandraCache",
    "CassandraLLMCacheError",
    "CassandraSemanticCache",
    "CircuitBreaker",
    "ConfigurationError",
    "ErrorPolicy",
    "LatencySummary",
    "LocalEmbeddings",
    "LocalServerError",
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
