"""LangChain's standard cache conformance suites, unmodified, against the semantic cache.

The suites store and look up exact prompts: the semantic cache answers them by key (exact-first).
Its embeddings are pseudo-random 64-dimensional unit vectors, so distinct prompts are far apart.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
from langchain_tests.integration_tests import AsyncCacheTestSuite, SyncCacheTestSuite

from cassandra_llm_cache import CassandraSemanticCache, SetupMode
from cassandra_llm_cache.testing import DeterministicEmbeddings


class TestCassandraSemanticCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, cassandra_session, cassandra_keyspace, table_name) -> CassandraSemanticCache:
        return CassandraSemanticCache(
            cassandra_session, cassandra_keyspace, DeterministicEmbeddings(64), table_name
        )


# Strict asyncio mode: see test_exact_standard_suites.py for why the mark and the filter.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function test_no_overrides:pytest.PytestWarning")
class TestCassandraSemanticCacheAsync(AsyncCacheTestSuite):
    @pytest_asyncio.fixture
    async def cache(
        self, cassandra_session, cassandra_keyspace, table_name
    ) -> CassandraSemanticCache:
        return CassandraSemanticCache(
            cassandra_session,
            cassandra_keyspace,
            DeterministicEmbeddings(64),
            table_name,
            setup_mode=SetupMode.ASYNC,
        )
