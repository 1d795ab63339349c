"""cassandra-llm-cache: LLM response caches for LangChain on Apache Cassandra."""

from cassandra_llm_cache._version import __version__

__all__ = ["__version__"]
