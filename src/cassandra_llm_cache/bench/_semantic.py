"""The semantic cache in the benchmark: hits by the same prompt (key read) and by a similar
prompt (vector search), misses, updates; and the 100,000-entry ANN scale run with recall@1.

Embeddings come from a :class:`VectorBook` (known vectors), so the figures are the cache's.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from cassandra_llm_cache._errors import CacheOperationError
from cassandra_llm_cache.bench._cache_scenarios import CacheSubject
from cassandra_llm_cache.bench._measure import Runner
from cassandra_llm_cache.bench._node import progress
from cassandra_llm_cache.bench._ours import SAME_FOOTING
from cassandra_llm_cache.bench._payloads import LLM_STRING, Payload, chat_payload, prompt
from cassandra_llm_cache.bench._scenario import (
    HIT_SIMILAR,
    OURS_SEMANTIC,
    ExpectationError,
    Scenario,
)
from cassandra_llm_cache.bench._vectors import DIMENSION, VectorBook, clustered, nearby

if TYPE_CHECKING:
    from cassandra_llm_cache.bench._node import Node
    from cassandra_llm_cache.bench._options import BenchOptions

# Cassandra 5.0.9 fails concurrent inserts into a vector index on a small node (CASSANDRA-21644,
# fixed upstream after 5.0.9); the cache keeps its own vector inserts to a few in flight and
# retries that failure, so more in flight here would only queue.
_FILL_IN_FLIGHT = 4
_WRITE_ATTEMPTS = 4
_RECALL_QUERIES = 200


def similar(text: str) -> str:
    """A different prompt with the same meaning features (numbers, names): a paraphrase."""
    return text.replace("please.", "please!")


def embedded(prompt_text: str) -> str:
    """The part of a cache prompt the semantic cache embeds (the last human message's text)."""
    try:
        from cassandra_llm_cache._semantic.prompt_text import split_prompt
    except ImportError:  # a semantic cache that embeds the whole prompt
        return prompt_text
    return split_prompt(prompt_text).text


def _register(book: VectorBook, texts: list[str], vectors: np.ndarray[Any, Any]) -> None:
    book.register([embedded(text) for text in texts], vectors)


def subject(
    node: Node, ttl_seconds: int, concurrencies: tuple[int, ...], stem: str = "semantic"
) -> CacheSubject:
    """``CassandraSemanticCache`` with a memoised embedding (ImportError until it exists)."""
    from cassandra_llm_cache import (  # type: ignore[attr-defined, unused-ignore]
        CassandraSemanticCache,
    )

    book = VectorBook()
    cache = CassandraSemanticCache(
        session=node.session,
        keyspace=node.keyspace,
        embedding=book,
        table_name=node.table_name(stem),
        ttl_seconds=ttl_seconds,
        embedding_dimension=DIMENSION,
        **SAME_FOOTING,
    )
    return CacheSubject(
        OURS_SEMANTIC,
        cache,
        concurrencies=concurrencies,
        note="memoised embedding; similar prompts go through the vector search",
        tables=(node.table(stem),),
        book=book,
    )


def register(subject: CacheSubject, payload: Payload, count: int, seed: int) -> None:
    """Give the stored prompts clustered vectors and their paraphrases vectors close to them."""
    book = subject.book
    assert isinstance(book, VectorBook)
    texts = [prompt(index, payload.label) for index in range(count)]
    vectors = clustered(count, seed)
    _register(book, texts, vectors)
    _register(book, [similar(text) for text in texts], nearby(vectors, seed + 1))


def similar_scenarios(subject: CacheSubject, payload: Payload, count: int) -> list[Scenario]:
    cache, tag = subject.cache, payload.label
    queries = [similar(prompt(index, tag)) for index in range(count)]
    lookup, alookup = cache.lookup, cache.alookup

    def hit(i: int) -> None:
        if lookup(queries[i % count], LLM_STRING) is None:
            raise ExpectationError("semantic: a similar prompt missed")

    async def ahit(i: int) -> None:
        if await alookup(queries[i % count], LLM_STRING) is None:
            raise ExpectationError("semantic: a similar prompt missed")

    found = [Scenario(OURS_SEMANTIC, HIT_SIMILAR, tag, sync_op=hit, note=subject.note)]
    found += [
        Scenario(OURS_SEMANTIC, HIT_SIMILAR, tag, level, async_op=ahit)
        for level in subject.concurrencies
    ]
    return found


# --- the scale run ----------------------------------------------------------------------------


async def _fill(
    cache: Any, texts: list[str], payload: Payload, deadline: float
) -> tuple[list[int], int]:
    """Write every text (bounded by ``deadline``); returns (indices written, writes failed).

    Cassandra 5.0's vector index can refuse a write under concurrent inserts on a small node
    ("Number of outstanding pooled objects has gone beyond the limit"): such a write is retried
    a few times, then counted as failed.
    """
    generations = payload.generations
    pending = iter(enumerate(texts))
    written: list[int] = []
    failed = 0

    async def write(text: str) -> bool:
        try:
            await cache.aupdate(text, LLM_STRING, generations)
        except CacheOperationError:
            return False
        return True

    async def worker() -> None:
        nonlocal failed
        for index, text in pending:
            if time.monotonic() > deadline:
                return
            for attempt in range(_WRITE_ATTEMPTS):
                if await write(text):
                    written.append(index)
                    break
                await asyncio.sleep(0.05 * (attempt + 1))
            else:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(_FILL_IN_FLIGHT)))
    return sorted(written), failed


def _recall(
    cache: Any, texts: list[str], vectors: np.ndarray[Any, Any], book: VectorBook, seed: int
) -> dict[str, Any]:
    """recall@1 of the vector search against brute force over every stored vector."""
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(texts), size=min(_RECALL_QUERIES, len(texts)), replace=False)
    # Queries near a stored entry but not on it (cosine ~0.85): the nearest entry is often one
    # of its cluster's other members, which is what makes the search's choice non-trivial.
    queries = nearby(vectors[sources], seed + 1, spread=0.6)
    query_texts = [prompt(i, "recall query") for i in range(len(queries))]
    _register(book, query_texts, queries)
    expected = np.argmax(vectors @ queries.T, axis=0)
    agree = 0
    for text, best in zip(query_texts, expected, strict=True):
        found = cache.similar_entries(text, LLM_STRING, limit=1)
        if found and found[0].document_id == cache.document_id(texts[int(best)], LLM_STRING):
            agree += 1
    return {"queries": len(query_texts), "recall_at_1": agree / len(query_texts)}


def run_semantic_scale(
    node: Node, options: BenchOptions, loop: asyncio.AbstractEventLoop
) -> dict[str, Any]:
    entries = options.semantic_scale_entries
    payload = chat_payload(2 * 1024)
    built = subject(node, options.ttl_seconds, (), stem="semantic_scale")
    cache, book = built.cache, built.book
    texts = [prompt(index, "semantic scale") for index in range(entries)]
    vectors = clustered(entries, seed=11)
    _register(book, texts, vectors)
    _register(book, [similar(t) for t in texts], nearby(vectors, 12))
    progress(f"semantic scale: filling {entries:,} entries")
    began = time.monotonic()
    written_rows, failed = loop.run_until_complete(
        _fill(cache, texts, payload, began + options.semantic_time_limit)
    )
    seconds = time.monotonic() - began
    # Recall is computed over exactly the stored set.
    texts, vectors = [texts[i] for i in written_rows], vectors[written_rows]
    written = len(texts)
    progress(f"semantic scale: {written:,} entries in {seconds:.0f} s; measuring")
    rng = np.random.default_rng(13)
    sample = [similar(texts[int(i)]) for i in rng.integers(0, written, 5000)]

    # The search is approximate: at this size a similar prompt can miss its entry. Misses are
    # counted and reported next to the latency (a hit rate) instead of ending the measurement.
    lookups = {"done": 0, "missed": 0}

    def hit(i: int) -> None:
        lookups["done"] += 1
        if cache.lookup(sample[i % len(sample)], LLM_STRING) is None:
            lookups["missed"] += 1

    scenario = Scenario(f"{OURS_SEMANTIC} @ {written:,}", HIT_SIMILAR, payload.label, sync_op=hit)
    runner = Runner.from_options(loop, options)
    figures: dict[str, Any] = {
        "entries": written,
        "requested": entries,
        "fill_seconds": round(seconds, 1),
        "failed_writes": failed,
    }
    try:
        (result,) = runner.measure([scenario], options.repetitions)
        figures["lookup"] = result.as_dict()
        figures["similar_lookups"] = dict(lookups)
        figures.update(_recall(cache, texts, vectors, book, seed=14))
    except Exception as error:  # noqa: BLE001 - the fill's figures are still worth reporting
        progress(f"semantic scale: measuring failed: {type(error).__name__}: {error}")
        figures["note"] = (
            f"Measuring failed after the fill: {type(error).__name__}: {str(error)[:200]}"
        )
    if not options.keep_tables:
        node.drop(built.tables[0])
    return figures
