"""The embedding memo: reuse, sharing of concurrent async calls, failures never remembered."""

from __future__ import annotations

import asyncio

import pytest

from cassandra_llm_cache._semantic.embedding_memo import EmbeddingMemo
from cassandra_llm_cache.testing import DeterministicEmbeddings, EmbeddingFailedError


def test_sync_and_async_share_the_memo():
    emb = DeterministicEmbeddings(4)
    memo = EmbeddingMemo(emb)
    first = memo.get("a")
    assert asyncio.run(memo.aget("a")) == first
    assert emb.calls == 1


def test_least_recently_used_texts_are_forgotten():
    emb = DeterministicEmbeddings(4)
    memo = EmbeddingMemo(emb, size=2)
    memo.get("a")
    memo.get("b")
    memo.get("a")  # "a" is now the most recent
    memo.get("c")  # evicts "b"
    memo.get("a")
    memo.get("b")
    assert emb.texts == {"a": 1, "b": 2, "c": 1}


def test_returned_vectors_are_copies():
    memo = EmbeddingMemo(DeterministicEmbeddings(4))
    memo.get("a")[0] = 99.0
    assert memo.get("a")[0] != 99.0


def test_concurrent_requests_share_one_call():
    emb = DeterministicEmbeddings(4, async_delay=0.02)
    memo = EmbeddingMemo(emb)

    async def many():
        return await asyncio.gather(*(memo.aget("x") for _ in range(20)))

    vectors = asyncio.run(many())
    assert all(v == vectors[0] for v in vectors)
    assert emb.calls == 1


def test_a_failure_reaches_all_waiters_and_the_next_call_retries():
    emb = DeterministicEmbeddings(4, async_delay=0.02)
    emb.fail_next = 1
    memo = EmbeddingMemo(emb)

    async def many():
        return await asyncio.gather(*(memo.aget("x") for _ in range(5)), return_exceptions=True)

    assert all(isinstance(o, EmbeddingFailedError) for o in asyncio.run(many()))
    assert asyncio.run(memo.aget("x")) == memo.get("x")
    assert emb.calls == 2


def test_each_event_loop_gets_its_own_call():
    emb = DeterministicEmbeddings(4, async_delay=0.01)
    memo = EmbeddingMemo(emb, size=0)  # remember nothing: every request embeds
    asyncio.run(memo.aget("x"))
    asyncio.run(memo.aget("x"))
    assert emb.calls == 2


def test_non_numeric_results_are_a_clear_error():
    class Broken(DeterministicEmbeddings):
        def embed_query(self, text):
            return None

    with pytest.raises(TypeError, match="not a sequence of numbers"):
        EmbeddingMemo(Broken(4)).get("x")
