"""LangChain's standard cache conformance suites, unmodified, against the real node."""

from __future__ import annotations

import pytest
import pytest_asyncio
from langchain_tests.integration_tests import AsyncCacheTestSuite, SyncCacheTestSuite

from cassandra_llm_cache import CassandraCache, SetupMode


class TestCassandraCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, cassandra_session, cassandra_keyspace, table_name) -> CassandraCache:
        return CassandraCache(cassandra_session, cassandra_keyspace, table_name)


# Strict asyncio mode: the suite's async tests need the mark; it also lands on the suite's one sync
# test (test_no_overrides_DO_NOT_OVERRIDE), which pytest-asyncio then warns about, harmlessly.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function test_no_overrides:pytest.PytestWarning")
class TestCassandraCacheAsync(AsyncCacheTestSuite):
    @pytest_asyncio.fixture
    async def cache(self, cassandra_session, cassandra_keyspace, table_name) -> CassandraCache:
        # ASYNC setup: the first call waits for the table without blocking the loop.
        return CassandraCache(
            cassandra_session, cassandra_keyspace, table_name, setup_mode=SetupMode.ASYNC
        )
