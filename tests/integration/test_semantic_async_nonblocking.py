"""The semantic cache's async API never blocks the event loop (blockbuster armed throughout)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from blockbuster import BlockBuster
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from cassandra_llm_cache import CassandraSemanticCache, LocalEmbeddings, SetupMode
from cassandra_llm_cache.testing import DeterministicEmbeddings

CONCURRENT = 200


@pytest.fixture
def blockbuster():
    detector = BlockBuster()
    detector.activate()
    try:
        yield detector
    finally:
        detector.deactivate()


@pytest.mark.asyncio
async def test_no_blocking_call_on_the_async_path(
    blockbuster, cassandra_session, cassandra_keyspace, table_name
):
    # ASYNC setup without a known dimension: the probe embedding, the DDL and the statement
    # preparation all happen on the first await, without blocking.
    class Opaque(Embeddings):  # tells no dimension
        inner = DeterministicEmbeddings(32)

        def embed_documents(self, texts):
            return self.inner.embed_documents(texts)

        def embed_query(self, text):
            return self.inner.embed_query(text)

        async def aembed_query(self, text):
            return await self.inner.aembed_query(text)

    cache = CassandraSemanticCache(
        cassandra_session, cassandra_keyspace, Opaque(), table_name, setup_mode=SetupMode.ASYNC
    )
    await asyncio.gather(
        *(cache.aupdate(f"p{i}", "m", [Generation(text=f"g{i}")]) for i in range(0, CONCURRENT, 2))
    )
    results = await asyncio.gather(*(cache.alookup(f"p{i}", "m") for i in range(CONCURRENT)))
    assert sum(r is not None for r in results) == CONCURRENT // 2
    hit = await cache.alookup_with_id("p2", "m")
    assert hit is not None
    await cache.adelete_by_document_id(hit[0])
    await cache.adelete("p4", "m")
    await cache.aclear(llm_string="m")
    await cache.aclear()
    assert await cache.alookup("p6", "m") is None


@pytest.fixture
def local_embeddings():
    embedding = LocalEmbeddings()
    yield embedding
    embedding.close()  # a sync call: after the test, outside the event loop


@pytest.mark.asyncio
async def test_local_embeddings_run_off_the_loop(
    local_embeddings, blockbuster, cassandra_session, cassandra_keyspace, table_name
):
    cache = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        local_embeddings,
        table_name,
        setup_mode=SetupMode.ASYNC,
    )
    await cache.aupdate("What is the capital of France?", "m", [Generation(text="Paris")])
    hit = await cache.alookup_with_score("What's the capital city of France?", "m")
    assert hit is not None
    assert hit.generations == [Generation(text="Paris")]
    assert hit.score >= cache.score_threshold
    assert await cache.alookup("What is the capital of Germany?", "m") is None


@pytest.mark.asyncio
async def test_observations_never_block_the_loop(
    blockbuster, cassandra_session, cassandra_keyspace
):
    # max_wrong_rate adds the observations table: its reads, writes, drops (on rewrite and
    # delete) and clears all go through the same non-blocking calls.
    cache = CassandraSemanticCache(
        cassandra_session,
        cassandra_keyspace,
        DeterministicEmbeddings(32),
        f"nonblock_{uuid.uuid4().hex[:12]}",
        setup_mode=SetupMode.ASYNC,
        max_wrong_rate=0.05,
        namespace="tenant",
    )
    await asyncio.gather(
        *(cache.aupdate(f"p{i}", "m", [Generation(text=f"g{i}")]) for i in range(8))
    )
    hit = await cache.alookup_with_id("p1", "m")
    assert hit is not None
    await asyncio.gather(*(cache.aobserve(hit[0], 0.9, right=True) for _ in range(4)))
    assert cache.stats().observations == 4
    await cache.aupdate("p1", "m", [Generation(text="rewritten")])
    await cache.alookup_adaptive("p1 and more", "m")
    await cache.adelete_by_document_id(hit[0])
    await cache.adelete("p2", "m")
    await cache.aclear(llm_string="m")
    await cache.aclear()
    assert await cache.alookup("p3", "m") is None
