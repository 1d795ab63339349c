"""The streaming wrappers on a real node: entries survive the codec, recordings replay, the
semantic cache serves a stream, unstorable and empty answers are streamed but not stored, and an
unreachable cache changes nothing for the caller (fail-open). Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from cassandra.cluster import Cluster
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from cassandra_llm_cache import CassandraCache, CassandraSemanticCache
from cassandra_llm_cache.streaming import CACHE_MARK_KEY, RECORDING_KEY, CachedChatModel
from cassandra_llm_cache.testing import DeterministicEmbeddings

REPLY = "Paris is the capital of France and its largest city"
USAGE = {"input_tokens": 7, "output_tokens": 10, "total_tokens": 17}


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0

    def add(self) -> None:
        with self.lock:
            self.calls += 1


class WordsChat(BaseChatModel):
    """Streams ``reply`` word by word and counts its calls."""

    reply: str = REPLY
    extra_info: dict[str, Any] | None = None
    counter: Any = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "words-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"reply": self.reply}

    def _chunks(self):
        words = self.reply.split(" ") if self.reply else [""]
        for i, word in enumerate(words):
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=word if i == 0 else " " + word)
            )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", usage_metadata=USAGE, response_metadata={"finish_reason": "stop"}
            ),
            generation_info=self.extra_info,
        )

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.counter.add()
        message = AIMessage(
            content=self.reply, usage_metadata=USAGE, response_metadata={"finish_reason": "stop"}
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        self.counter.add()
        yield from self._chunks()

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
        self.counter.add()
        for chunk in self._chunks():
            await asyncio.sleep(0)
            yield chunk


@pytest.fixture(autouse=True)
def _no_global_cache():
    set_llm_cache(None)
    yield
    set_llm_cache(None)


def summed(chunks):
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def test_a_stream_is_stored_with_its_recording_and_replayed_from_cassandra(
    cassandra_session, cassandra_keyspace, table_name
):
    counter = Counter()
    inner = WordsChat(counter=counter)
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    wrapper = CachedChatModel(inner, cache)
    live = list(wrapper.stream("capital of France?"))
    replayed = list(wrapper.stream("capital of France?"))
    assert counter.calls == 1
    assert [c.content for c in replayed] == [c.content for c in live]
    total = summed(replayed)
    assert total.content == summed(live).content == REPLY
    assert total.usage_metadata == USAGE
    assert total.response_metadata == {"finish_reason": "stop", CACHE_MARK_KEY: "hit"}
    # What Cassandra holds: the answer plus its recording, in generation_info.
    set_llm_cache(cache)
    bare = inner.invoke("capital of France?")  # LangChain's own lookup, LangChain's own keys
    assert counter.calls == 1
    assert bare.content == REPLY
    assert RECORDING_KEY not in str(bare)
    stored = inner.generate([[HumanMessage("capital of France?")]]).generations[0][0]
    assert stored.generation_info[RECORDING_KEY]["s"] == [len(c.content) for c in live[:-1]]
    assert cache.stats().hits >= 3


@pytest.mark.asyncio
async def test_async_streams_share_one_call_and_replay(
    cassandra_session, cassandra_keyspace, table_name
):
    counter = Counter()
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    wrapper = CachedChatModel(WordsChat(counter=counter), cache)

    async def stream() -> str:
        return "".join([c.content async for c in wrapper.astream("q")])

    assert await asyncio.gather(*(stream() for _ in range(5))) == [REPLY] * 5
    assert counter.calls == 1
    assert await stream() == REPLY
    assert (await wrapper.ainvoke("q")).response_metadata[CACHE_MARK_KEY] == "hit"
    assert counter.calls == 1


def test_the_semantic_cache_serves_a_second_stream(
    cassandra_session, cassandra_keyspace, table_name
):
    counter = Counter()
    cache = CassandraSemanticCache(
        cassandra_session, cassandra_keyspace, DeterministicEmbeddings(16), table_name
    )
    wrapper = CachedChatModel(WordsChat(counter=counter), cache)
    first = list(wrapper.stream("What is the capital of France?"))
    second = list(wrapper.stream("What is the capital of France?"))
    assert counter.calls == 1
    assert [c.content for c in second] == [c.content for c in first]
    assert summed(second).response_metadata[CACHE_MARK_KEY] == "hit"


@pytest.mark.parametrize(
    ("reply", "extra_info"),
    [
        ("", None),  # empty: the default should_cache declines it
        (REPLY, {"not_json": {1, 2}}),  # a set cannot be stored faithfully
    ],
)
def test_what_cannot_or_should_not_be_stored_is_streamed_and_not_stored(
    cassandra_session, cassandra_keyspace, table_name, reply, extra_info
):
    counter = Counter()
    cache = CassandraCache(cassandra_session, cassandra_keyspace, table_name)
    wrapper = CachedChatModel(WordsChat(counter=counter, reply=reply, extra_info=extra_info), cache)
    for _ in range(2):
        assert "".join(c.content for c in wrapper.stream("q")) == reply
    assert counter.calls == 2
    assert cache.stats().writes == 0


@pytest.fixture
def unreachable_cache(cassandra_contact, cassandra_keyspace, table_name):
    """A cache whose session's cluster has been shut down: every request fails at once."""
    cluster = Cluster(**cassandra_contact.cluster_kwargs())
    cache = CassandraCache(cluster.connect(), cassandra_keyspace, table_name)
    cluster.shutdown()
    return cache


def test_an_unreachable_cache_changes_nothing_for_the_caller(unreachable_cache):
    counter = Counter()
    wrapper = CachedChatModel(WordsChat(counter=counter), unreachable_cache)
    assert "".join(c.content for c in wrapper.stream("q")) == REPLY
    assert wrapper.invoke("q").content == REPLY
    assert "".join(c.content for c in wrapper.stream("q")) == REPLY
    assert counter.calls == 3
    assert unreachable_cache.stats().hits == 0


@pytest.mark.asyncio
async def test_an_unreachable_cache_changes_nothing_for_async_callers(unreachable_cache):
    counter = Counter()
    wrapper = CachedChatModel(WordsChat(counter=counter), unreachable_cache)
    assert "".join([c.content async for c in wrapper.astream("q")]) == REPLY
    assert (await wrapper.ainvoke("q")).content == REPLY
    assert counter.calls == 2
