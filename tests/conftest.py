"""Isolation between tests: no process-wide connection outlives the test that set it."""

import sys
from collections.abc import Iterator

import pytest

from cassandra_llm_cache._storage import connection as _connection


@pytest.fixture(autouse=True)
def _forget_global_connections() -> Iterator[None]:
    """Reset ``init()`` and cassio's globals after each test.

    Caches fall back to both when given no session; a session left there by one test (and shut
    down by it) would otherwise be picked up by a later test.
    """
    yield
    _connection.reset()
    cassio_config = sys.modules.get("cassio.config")
    if cassio_config is not None:
        cassio_config.default_session = None  # type: ignore[attr-defined]
        cassio_config.default_keyspace = None  # type: ignore[attr-defined]
