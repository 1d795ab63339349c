"""DeterministicEmbeddings: the test helper must itself be predictable."""

from __future__ import annotations

import asyncio
import math

import pytest

from cassandra_llm_cache.testing import (
    DeterministicEmbeddings,
    EmbeddingFailedError,
    basis_vector,
    unit_vector_with_cosine,
)


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_unknown_texts_get_fixed_unit_vectors():
    one, two = DeterministicEmbeddings(8), DeterministicEmbeddings(8)
    vector = one.embed_query("hello")
    assert vector == two.embed_query("hello")
    assert len(vector) == 8
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0)
    assert vector != one.embed_query("hello!")


def test_set_vectors_are_returned_normalised():
    emb = DeterministicEmbeddings(4, {"a": [3, 0, 0, 4]})
    assert emb.embed_query("a") == pytest.approx([0.6, 0, 0, 0.8])


@pytest.mark.parametrize("cosine", [-1.0, 0.0, 0.5, 0.93, 1.0])
def test_unit_vector_with_cosine_is_exact(cosine):
    vector = unit_vector_with_cosine(cosine, 6, axis=2)
    assert _cos(vector, basis_vector(6, 2)) == pytest.approx(cosine)
    assert _cos(vector, vector) == pytest.approx(1.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="cosine"):
        unit_vector_with_cosine(1.5, 4)
    with pytest.raises(ValueError, match="axis"):
        unit_vector_with_cosine(0.5, 4, axis=3)
    with pytest.raises(ValueError, match="coordinates"):
        DeterministicEmbeddings(4).set("x", [1.0])
    with pytest.raises(ValueError, match="zero"):
        DeterministicEmbeddings(2).set("x", [0.0, 0.0])


def test_calls_are_counted_per_text_and_api():
    emb = DeterministicEmbeddings(4)
    emb.embed_query("a")
    emb.embed_documents(["a", "b"])
    asyncio.run(emb.aembed_query("b"))
    assert emb.calls == 4
    assert emb.texts == {"a": 2, "b": 2}
    assert (emb.sync_calls, emb.async_calls) == (2, 1)
    emb.reset_counts()
    assert (emb.calls, emb.sync_calls, emb.async_calls, len(emb.texts)) == (0, 0, 0, 0)


def test_failures_can_be_injected():
    emb = DeterministicEmbeddings(4)
    emb.fail_next = 1
    with pytest.raises(EmbeddingFailedError):
        emb.embed_query("a")
    assert emb.embed_query("a")  # only the next call failed
    emb.fail_texts.add("bad")
    with pytest.raises(EmbeddingFailedError):
        asyncio.run(emb.aembed_query("bad"))


def test_async_delay_does_not_block_the_loop():
    emb = DeterministicEmbeddings(4, async_delay=0.05)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(emb.aembed_query(str(i)) for i in range(20)))
        return loop.time() - start

    assert asyncio.run(main()) < 0.5  # 20 concurrent sleeps of 50 ms overlap
