"""``CachedLLM``: text-completion models through a cache, with LangChain's keys and callbacks."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache

from cassandra_llm_cache.streaming import CACHE_MARK_KEY, RECORDING_KEY, CachedLLM
from cassandra_llm_cache.streaming._flight import REGISTRY
from streaming_fakes import REPLY, Probe, ScriptedChat, ScriptedLLM, Tokens


@pytest.fixture(autouse=True)
def _no_global_cache():
    set_llm_cache(None)
    yield
    set_llm_cache(None)
    assert len(REGISTRY) == 0


def test_entries_are_shared_both_ways_with_the_bare_model():
    probe = Probe()
    inner = ScriptedLLM(probe=probe)
    cache = InMemoryCache()
    wrapper = CachedLLM(inner, cache)
    streamed = list(wrapper.stream("hi"))
    assert "".join(streamed) == REPLY
    assert len(streamed) > 1
    set_llm_cache(cache)
    assert inner.invoke("hi") == REPLY  # LangChain's own lookup finds the streamed entry
    assert inner.invoke("other") == REPLY
    assert probe.calls == 2
    assert "".join(CachedLLM(inner).stream("other")) == REPLY  # and the other way round
    assert probe.calls == 2
    generated = inner.generate(["hi"]).generations[0][0]
    assert generated.generation_info[RECORDING_KEY]["s"] == [len(p) for p in streamed]


def test_a_hit_replays_the_recorded_chunks_and_reports_each_token_once():
    probe = Probe()
    wrapper = CachedLLM(ScriptedLLM(probe=probe), InMemoryCache())
    live_tokens, replay_tokens = Tokens(), Tokens()
    live = list(wrapper.stream("hi", config={"callbacks": [live_tokens]}))
    replayed = list(wrapper.stream("hi", config={"callbacks": [replay_tokens]}))
    assert probe.calls == 1
    assert replayed == live
    assert live_tokens.tokens == replay_tokens.tokens == live  # never twice
    result = wrapper.generate(["hi"]).generations[0][0]
    assert result.text == REPLY
    assert result.generation_info == {CACHE_MARK_KEY: "hit"}


@pytest.mark.asyncio
async def test_async_calls_share_one_model_call():
    probe = Probe()
    wrapper = CachedLLM(ScriptedLLM(probe=probe), InMemoryCache())
    answers = await asyncio.gather(*(wrapper.ainvoke("q") for _ in range(5)))
    assert answers == [REPLY] * 5
    tokens = Tokens()
    chunks = [c async for c in wrapper.astream("q", config={"callbacks": [tokens]})]
    assert "".join(chunks) == REPLY
    assert tokens.tokens == chunks
    assert probe.calls == 1


def test_a_batch_looks_up_each_prompt_and_calls_the_model_once_for_the_misses():
    probe = Probe()
    cache = InMemoryCache()
    wrapper = CachedLLM(ScriptedLLM(probe=probe), cache)
    wrapper.invoke("a")
    assert wrapper.batch(["a", "b", "c"]) == [REPLY] * 3
    assert probe.calls == 3  # "a" once, then "b" and "c" in one model call
    assert wrapper.batch(["a", "b", "c"]) == [REPLY] * 3
    assert probe.calls == 3


def test_stop_is_part_of_the_key():
    probe = Probe()
    wrapper = CachedLLM(ScriptedLLM(probe=probe), InMemoryCache())
    wrapper.invoke("a")
    wrapper.invoke("a", stop=["."])
    wrapper.invoke("a", stop=["."])
    assert probe.calls == 2


def test_a_chat_model_is_refused():
    with pytest.raises(TypeError, match="use CachedChatModel"):
        CachedLLM(ScriptedChat())
