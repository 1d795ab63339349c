"""`make demo`: the main job on a real node — a chat model slow on a miss, fast on a hit.

Three parts: the exact cache through ``invoke``, a streamed miss and its replay through
``CachedChatModel``, and the semantic cache answering a reworded question.

Uses the cluster named by ``CASSANDRA_CONTACT_POINTS`` if set; otherwise starts the local node
(and stops it again at the end unless it was already running or ``--keep-running`` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import TYPE_CHECKING, Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from cassandra_llm_cache.testing import CassandraContact, contact_from_env

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from cassandra.cluster import Session

    from cassandra_llm_cache.server import LocalCluster

DEMO_KEYSPACE = "llm_cache_demo"


class SlowChatModel(BaseChatModel):
    """A stand-in for a remote LLM: answers after ``latency`` seconds and counts its calls."""

    latency: float = 1.0
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "slow-demo-chat-model"

    def _answer(self, messages: list[BaseMessage]) -> ChatResult:
        self.calls += 1
        question = str(messages[-1].content)
        message = AIMessage(
            content=f"An answer to a {len(question)}-character question.",
            usage_metadata={"input_tokens": 12, "output_tokens": 9, "total_tokens": 21},
            response_metadata={"model_name": "slow-demo", "finish_reason": "stop"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        time.sleep(self.latency)
        return self._answer(messages)

    async def _agenerate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        await asyncio.sleep(self.latency)
        return self._answer(messages)


class SlowStreamingChatModel(SlowChatModel):
    """Streams its answer word by word: the first word after ``latency``, then one per ``gap``."""

    gap: float = 0.04

    def _stream(self, *_: Any, **__: Any) -> Iterator[ChatGenerationChunk]:
        self.calls += 1
        time.sleep(self.latency)
        words = f"Streamed answer number {self.calls}: tokens arrive one by one.".split(" ")
        for index, word in enumerate(words):
            if index:
                time.sleep(self.gap)
            text = word if index == 0 else " " + word
            yield ChatGenerationChunk(message=AIMessageChunk(content=text))


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def _timed(call: Any) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


async def _atimed(call: Any) -> float:
    began = time.perf_counter()
    await call()
    return time.perf_counter() - began


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_exact_demo(session: Session, keyspace: str, *, hits: int = 200) -> dict[str, Any]:
    """Miss then hit, sync and async, through ``invoke``; return the measured figures."""
    from cassandra_llm_cache import CassandraCache

    cache = CassandraCache(session=session, keyspace=keyspace, table_name="demo_exact_cache")
    cache.clear()
    model = SlowChatModel(cache=cache)
    question = "What is Apache Cassandra good at?"

    print("\n== Exact cache (CassandraCache) through ChatModel.invoke ==")
    miss = _timed(lambda: model.invoke(question))
    hit = _timed(lambda: model.invoke(question))
    print(f"sync  first call (miss, model runs): {_milliseconds(miss)}")
    print(f"sync  same call  (hit, from Cassandra): {_milliseconds(hit)}")

    async def async_part() -> tuple[float, float]:
        other = "And what is a partition key?"
        amiss = await _atimed(lambda: model.ainvoke(other))
        ahit = await _atimed(lambda: model.ainvoke(other))
        return amiss, ahit

    amiss, ahit = asyncio.run(async_part())
    print(f"async first call (miss, model runs): {_milliseconds(amiss)}")
    print(f"async same call  (hit, from Cassandra): {_milliseconds(ahit)}")

    samples = [_timed(lambda: model.invoke(question)) for _ in range(hits)]
    p50 = statistics.median(samples)
    p99 = _percentile(samples, 0.99)
    print(f"{hits} more hits through invoke: p50 {_milliseconds(p50)}, p99 {_milliseconds(p99)}")
    print(f"the model ran {model.calls} times for {hits + 4} calls")
    stats = cache.stats()
    print(
        f"cache: {stats.hits} hits, {stats.misses} misses, {stats.writes} writes, "
        f"{stats.errors} errors; hit rate {stats.hit_rate:.1%}"
    )
    return {"miss": miss, "hit": hit, "amiss": amiss, "ahit": ahit, "p50": p50, "p99": p99}


def _streamed(stream: Iterator[Any]) -> tuple[float, float, int, str]:
    """Time to the first chunk, total time, chunk count and text of one stream."""
    began = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    for chunk in stream:
        if not pieces:
            first = time.perf_counter() - began
        pieces.append(str(chunk.content))
    return first, time.perf_counter() - began, len(pieces), "".join(pieces)


def run_streaming_demo(session: Session, keyspace: str) -> dict[str, Any]:
    """A streamed miss (live from the model, then stored), then streamed replays of the hit."""
    from cassandra_llm_cache import CachedChatModel, CassandraCache

    cache = CassandraCache(session=session, keyspace=keyspace, table_name="demo_streaming_cache")
    cache.clear()
    model = SlowStreamingChatModel(latency=0.5)
    question = "Why does Cassandra scale linearly?"
    print("\n== Streaming through CachedChatModel (LangChain's stream() never consults a cache) ==")
    figures: dict[str, Any] = {}
    for label, replay in (("miss, model streams", "instant"), ("hit, instant replay", "instant")):
        chat = CachedChatModel(model, cache, replay=replay)
        first, total, count, text = _streamed(chat.stream(question))
        figures[label] = (first, total, count, text)
        print(
            f"{label:<28} first chunk {_milliseconds(first)}, whole answer "
            f"{_milliseconds(total)}, {count} chunks"
        )
    recorded = CachedChatModel(model, cache, replay="recorded")
    first, total, count, text = _streamed(recorded.stream(question))
    figures["hit, recorded pacing"] = (first, total, count, text)
    print(
        f"{'hit, recorded pacing':<28} first chunk {_milliseconds(first)}, whole answer "
        f"{_milliseconds(total)}, {count} chunks (the model's own rhythm)"
    )
    same = len({entry[3] for entry in figures.values()}) == 1
    print(f"the model ran {model.calls} time(s) for 3 streams; same text every time: {same}")
    return {"model_calls": model.calls, "figures": figures, "same_text": same}


def run_semantic_demo(session: Session, keyspace: str) -> dict[str, Any]:
    """A reworded question served by the semantic cache; a reversed conversion refused."""
    from cassandra_llm_cache import CassandraSemanticCache, LocalEmbeddings
    from cassandra_llm_cache._values.keys import langchain_cache_key

    embedding = LocalEmbeddings()
    cache = CassandraSemanticCache(
        session=session, keyspace=keyspace, embedding=embedding, table_name="demo_semantic_cache"
    )
    cache.clear()
    model = SlowChatModel(cache=cache)
    print("\n== Semantic cache (CassandraSemanticCache + LocalEmbeddings, offline) ==")
    first = "How does Cassandra distribute data across nodes?"
    reworded = "In Cassandra, how is data distributed across nodes?"
    miss = _timed(lambda: model.invoke(first))
    similar = _timed(lambda: model.invoke(reworded))
    hit = cache.lookup_with_score(*langchain_cache_key(reworded, model))
    score = f"{hit.score:.3f}" if hit is not None else "-"
    print(f"first question (miss, model runs): {_milliseconds(miss)}")
    print(
        f"reworded question (hit, cosine {score} >= {cache.score_threshold}): "
        f"{_milliseconds(similar)}"
    )
    _timed(lambda: model.invoke("Convert 5 miles to kilometers."))
    refused = _timed(lambda: model.invoke("Convert 5 kilometers to miles."))
    print(
        f"'Convert 5 kilometers to miles' after 'Convert 5 miles to kilometers': the guard "
        f"refused the cached answer, the model ran ({_milliseconds(refused)})"
    )
    stats = cache.stats()
    print(
        f"the model ran {model.calls} times for 4 calls; cache: {stats.hits} hits, "
        f"{stats.misses} misses, {stats.guard_rejections} refused by the guard"
    )
    embedding.close()
    return {"miss": miss, "similar": similar, "refused": refused, "model_calls": model.calls}


def _connect(contact: CassandraContact) -> tuple[Any, Session]:
    from cassandra.cluster import Cluster

    cluster = Cluster(**contact.cluster_kwargs())
    return cluster, cluster.connect()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cassandra_llm_cache.demo")
    parser.add_argument("--keep-running", action="store_true", help="leave the local node up")
    parser.add_argument("--hits", type=int, default=200, help="hits to time for p50/p99")
    args = parser.parse_args(argv)

    local: LocalCluster | None = None
    contact = contact_from_env()
    started_here = False
    if contact is None:
        from cassandra_llm_cache.server import LocalCluster

        local = LocalCluster()
        started_here = not local.is_running(1)
        seconds = local.start()
        print(f"local Cassandra ready on 127.0.0.1:9042 in {seconds:.1f} s ({local.base_dir})")
        contact = CassandraContact(contact_points=local.contact_points)
    cluster, session = _connect(contact)
    try:
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {DEMO_KEYSPACE} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        run_exact_demo(session, DEMO_KEYSPACE, hits=args.hits)
        run_streaming_demo(session, DEMO_KEYSPACE)
        run_semantic_demo(session, DEMO_KEYSPACE)
    finally:
        cluster.shutdown()
        if local is not None and started_here and not args.keep_running:
            local.stop()
            print("local Cassandra stopped (use --keep-running to leave it up)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
