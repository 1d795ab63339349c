"""The one exception tree of cassandra-llm-cache.

Driver errors are translated into these in one place (``_storage.store``), always with
``raise ... from``. Messages name the fix and never contain prompts, responses or credentials.
"""

from __future__ import annotations


class CassandraLLMCacheError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(CassandraLLMCacheError, ValueError):
    """Invalid arguments or settings, detected before anything reaches the server."""


class SessionNotConfiguredError(ConfigurationError):
    """No session was given and no global connection was set with ``init()``."""


class SetupError(CassandraLLMCacheError):
    """Creating or checking the cache table failed (raised by every call after a failed setup)."""


class CacheOperationError(CassandraLLMCacheError):
    """A lookup, update or delete failed on the database (only with ``on_error="raise"``)."""


class LocalServerError(CassandraLLMCacheError):
    """The local Cassandra launcher could not do what was asked; the message names the fix."""


class CoalescedCallError(CassandraLLMCacheError):
    """A model call shared with other callers failed after part of its stream reached this one.

    ``__cause__`` is the model's error. Retrying the request is safe: nothing was cached.
    """
