"""``CachedChatModel`` against LangChain's ``InMemoryCache``: keys, streaming, replay, callbacks.

No Cassandra here (tests/integration/test_streaming_cassandra.py runs the same paths on a node).
Models are scripted fakes (``streaming_fakes``) that count their calls; a chunk that must not
have been produced yet is held by an event, never by a sleep.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListLLM
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration
from langchain_core.prompts import ChatPromptTemplate
from langchain_tests.unit_tests import ChatModelUnitTests
from pydantic import BaseModel

from cassandra_llm_cache import ConfigurationError
from cassandra_llm_cache.streaming import CACHE_MARK_KEY, RECORDING_KEY, CachedChatModel, _common
from streaming_fakes import (
    REPLY,
    USAGE,
    ModelError,
    NonStreamingChat,
    Probe,
    ScriptedChat,
    Tokens,
    TwoAnswersChat,
)


@pytest.fixture(autouse=True)
def _no_global_cache():
    set_llm_cache(None)
    yield
    set_llm_cache(None)


def joined(chunks) -> str:
    return "".join(chunk.content for chunk in chunks)


def summed(chunks):
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def entry(cache: InMemoryCache, model, question: str, **kwargs):
    """The entry LangChain's own key for ``model`` (and ``question``) finds in ``cache``."""
    prompt = dumps([HumanMessage(question)])
    return cache.lookup(prompt, model._get_llm_string(**kwargs))


class Adder(BaseModel):
    """Add two integers."""

    a: int
    b: int


# -- keys are LangChain's -------------------------------------------------------------------------


def test_a_streamed_miss_serves_a_plain_invoke_of_the_bare_model():
    probe = Probe()
    inner = ScriptedChat(probe=probe)
    cache = InMemoryCache()
    streamed = list(CachedChatModel(inner, cache).stream("hi"))
    assert joined(streamed) == REPLY
    assert probe.calls == 1
    set_llm_cache(cache)
    bare = inner.invoke("hi")  # LangChain's own cache path, with LangChain's own keys
    assert probe.calls == 1
    assert bare.content == REPLY
    assert bare.usage_metadata["output_tokens"] == USAGE["output_tokens"]
    assert bare.response_metadata == {"finish_reason": "stop", "model_name": "scripted-1"}
    assert RECORDING_KEY not in str(bare)


def test_a_plain_invoke_of_the_bare_model_serves_a_stream_of_the_wrapper():
    probe = Probe()
    inner = ScriptedChat(probe=probe)
    cache = InMemoryCache()
    set_llm_cache(cache)
    first = inner.invoke("hi")
    wrapper = CachedChatModel(inner)  # cache=None: the global cache
    chunks = list(wrapper.stream("hi"))
    assert probe.calls == 1
    assert len(chunks) > 1  # no recorded boundaries: replayed in word groups
    total = summed(chunks)
    assert total.content == first.content
    assert total.response_metadata[CACHE_MARK_KEY] == "hit"
    assert total.usage_metadata == USAGE


def test_tools_stop_and_call_arguments_are_part_of_the_key():
    probe = Probe()
    inner = ScriptedChat(probe=probe)
    cache = InMemoryCache()
    wrapper = CachedChatModel(inner, cache)
    wrapper.invoke("hi")
    wrapper.bind(stop=["."]).invoke("hi")
    with_tools = wrapper.bind_tools([Adder])
    message = with_tools.invoke("hi")
    assert message.tool_calls[0]["name"] == "Adder"
    assert probe.calls == 3
    wrapper.invoke("hi")
    wrapper.bind(stop=["."]).invoke("hi")
    with_tools.invoke("hi")
    assert probe.calls == 3
    # The tool-bound entry sits under the bare model's own key for the same call.
    tools = inner.bind_tools([Adder]).kwargs
    assert entry(cache, inner, "hi", **tools) is not None
    assert entry(cache, inner, "hi", stop=["."]) is not None


def test_message_ids_are_not_part_of_the_key():
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache())
    wrapper.invoke([HumanMessage("hi", id="a")])
    wrapper.invoke([HumanMessage("hi", id="b")])
    assert probe.calls == 1


# -- a miss streams live and is stored only when it ends ----------------------------------------


def test_chunks_reach_the_caller_as_the_model_produces_them():
    probe = Probe()
    release = threading.Event()
    probe.gates[1] = release  # the model produces chunk 1 only once the caller has chunk 0
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache())
    stream = wrapper.stream("hi")
    first = next(stream)
    assert first.content == "the"
    assert probe.produced == [0]
    release.set()
    assert first.content + joined(stream) == REPLY


def test_nothing_is_stored_when_the_caller_stops_early():
    probe = Probe()
    cache = InMemoryCache()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    for chunk in wrapper.stream("hi"):
        assert chunk.content == "the"
        break
    assert entry(cache, ScriptedChat(), "hi") is None
    assert joined(wrapper.stream("hi")) == REPLY
    assert probe.calls == 2
    assert entry(cache, ScriptedChat(), "hi") is not None


@pytest.mark.asyncio
async def test_nothing_is_stored_when_an_async_stream_is_cancelled():
    probe = Probe()
    probe.agates[2] = asyncio.Event()  # never set: the model hangs after two chunks
    cache = InMemoryCache()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    got: list[str] = []
    two = asyncio.Event()

    async def consume():
        async for chunk in wrapper.astream("hi"):
            got.append(chunk.content)
            if len(got) == 2:
                two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == ["the", " quick"]
    assert entry(cache, ScriptedChat(), "hi") is None


@pytest.mark.parametrize("coalesce", ["process", None])
def test_a_model_error_propagates_unchanged_and_nothing_is_stored(coalesce):
    probe = Probe(fail_calls=(1,), fail_at_chunk=3)
    cache = InMemoryCache()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache, coalesce=coalesce)
    got = []
    with pytest.raises(ModelError, match="scripted failure of call 1 at chunk 3"):
        got.extend(chunk.content for chunk in wrapper.stream("hi"))
    assert entry(cache, ScriptedChat(), "hi") is None
    failing_invoke = Probe(fail_calls=(1,))
    with pytest.raises(ModelError, match="scripted failure of call 1"):
        CachedChatModel(ScriptedChat(probe=failing_invoke), cache, coalesce=coalesce).invoke("x")
    assert entry(cache, ScriptedChat(), "x") is None


def test_should_cache_decides_what_is_stored():
    class Picky(InMemoryCache):
        def update(self, prompt, llm_string, return_val):
            if "fox" not in return_val[0].text:
                return
            super().update(prompt, llm_string, return_val)

    probe = Probe()
    cache = Picky()
    empty = CachedChatModel(ScriptedChat(probe=probe, reply="nothing here"), cache)
    list(empty.stream("hi"))
    list(empty.stream("hi"))
    assert probe.calls == 2


# -- hits: replay, pacing, marks, callbacks ------------------------------------------------------


def test_a_hit_replays_the_recorded_chunks_and_adds_up_to_the_answer():
    probe = Probe()
    cache = InMemoryCache()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    live = list(wrapper.stream("hi"))
    replayed = list(wrapper.stream("hi"))
    assert probe.calls == 1
    assert [c.content for c in replayed] == [c.content for c in live]
    total, original = summed(replayed), summed(live)
    assert total.content == original.content == REPLY
    assert total.usage_metadata == original.usage_metadata == USAGE
    assert total.response_metadata == original.response_metadata | {CACHE_MARK_KEY: "hit"}
    assert CACHE_MARK_KEY not in original.response_metadata
    invoked = wrapper.invoke("hi")
    assert invoked.content == REPLY
    assert invoked.response_metadata[CACHE_MARK_KEY] == "hit"
    assert RECORDING_KEY not in str(invoked) + str(total)


def test_tool_calls_replay_as_tool_call_chunks():
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache()).bind_tools([Adder])
    live = summed(list(wrapper.stream("add")))
    replayed = list(wrapper.stream("add"))
    assert probe.calls == 1
    total = summed(replayed)
    assert (
        total.tool_calls
        == live.tool_calls
        == [{"name": "Adder", "args": {"a": 1, "b": 2}, "id": "call_1", "type": "tool_call"}]
    )
    assert any(chunk.tool_call_chunks for chunk in replayed)


def test_tokens_are_reported_for_replayed_chunks():
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache())
    list(wrapper.stream("hi"))
    tokens = Tokens()
    replayed = [c.content for c in wrapper.stream("hi", config={"callbacks": [tokens]})]
    assert probe.calls == 1
    assert "".join(tokens.tokens) == REPLY
    assert tokens.tokens[: len(replayed)] == replayed
    assert tokens.ends == 1


def test_invoke_with_a_streaming_model_reports_tokens_on_a_hit_too():
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe, streaming=True), InMemoryCache())
    first, second = Tokens(), Tokens()
    assert wrapper.invoke("hi", config={"callbacks": [first]}).content == REPLY
    hit = wrapper.invoke("hi", config={"callbacks": [second]})
    assert probe.calls == 1
    assert hit.response_metadata[CACHE_MARK_KEY] == "hit"
    assert "".join(first.tokens) == "".join(second.tokens) == REPLY


def test_recorded_pacing_sleeps_as_recorded_scaled(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(_common.time, "sleep", slept.append)
    cache = InMemoryCache()
    message = AIMessage(content="abcdef")
    info = {RECORDING_KEY: {"v": 1, "s": [2, 2, 2], "t": [900, 100, 300]}}
    cache.update(
        dumps([HumanMessage("hi")]),
        ScriptedChat()._get_llm_string(),
        [ChatGeneration(message=message, generation_info=info)],
    )
    instant = CachedChatModel(ScriptedChat(), cache)
    assert [c.content for c in instant.stream("hi")][:3] == ["ab", "cd", "ef"]
    assert slept == []
    half = CachedChatModel(ScriptedChat(), cache, replay=0.5)
    list(half.stream("hi"))
    assert slept == [pytest.approx(0.05), pytest.approx(0.15)]  # the first chunk waits for nothing
    slept.clear()
    list(CachedChatModel(ScriptedChat(), cache, replay="recorded").stream("hi"))
    assert slept == [pytest.approx(0.1), pytest.approx(0.3)]


@pytest.mark.asyncio
async def test_recorded_pacing_awaits_in_async_code(monkeypatch):
    slept: list[float] = []

    async def fake_sleep(seconds):
        slept.append(seconds)

    monkeypatch.setattr(_common.asyncio, "sleep", fake_sleep)
    monkeypatch.setattr(_common.time, "sleep", pytest.fail)  # never a blocking sleep here
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache(), replay="recorded")
    [c async for c in wrapper.astream("hi")]
    [c async for c in wrapper.astream("hi")]
    assert probe.calls == 1
    # Zero-second sleeps are the flight handing the loop to its subscribers after each chunk.
    paced = [seconds for seconds in slept if seconds > 0]
    assert len(paced) <= len(REPLY.split()) + 1
    assert all(seconds >= 0 for seconds in slept)


# -- what LangChain builds around a chat model still works ---------------------------------------


def test_lcel_pipes_batch_and_structured_output_go_through_the_cache():
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache())
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | wrapper | StrOutputParser()
    assert chain.invoke({"q": "hi"}) == REPLY
    assert "".join(chain.stream({"q": "hi"})) == REPLY
    assert wrapper.batch(["hi", "hi", "other"])[0].content == REPLY
    assert probe.calls == 2  # "hi" once, "other" once
    structured = wrapper.with_structured_output(Adder)
    assert structured.invoke("add") == Adder(a=1, b=2)
    assert structured.invoke("add") == Adder(a=1, b=2)
    raw = wrapper.with_structured_output(Adder, include_raw=True).invoke("add")
    assert raw["parsed"] == Adder(a=1, b=2)
    assert probe.calls == 3


@pytest.mark.asyncio
async def test_async_entry_points_and_events():
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), InMemoryCache())
    assert (await wrapper.ainvoke("hi")).content == REPLY
    assert joined([c async for c in wrapper.astream("hi")]) == REPLY
    assert [m.content for m in await wrapper.abatch(["hi", "hi"])] == [REPLY, REPLY]
    events = [e async for e in wrapper.astream_events("hi", version="v2")]
    streamed = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(streamed) == REPLY
    assert probe.calls == 1


def test_a_model_without_stream_streams_one_chunk_and_still_caches():
    probe = Probe()
    wrapper = CachedChatModel(NonStreamingChat(probe=probe), InMemoryCache())
    assert [c.content for c in wrapper.stream("hi")] == [REPLY]
    assert [c.content for c in wrapper.stream("hi")] == [REPLY]
    assert probe.calls == 1


def test_disable_streaming_behaves_as_with_the_bare_model():
    probe = Probe()
    inner = ScriptedChat(probe=probe, disable_streaming=True)
    wrapper = CachedChatModel(inner, InMemoryCache())
    assert [c.content for c in wrapper.stream("hi")] == [c.content for c in inner.stream("x")]
    assert [c.content for c in wrapper.stream("hi")] == [REPLY]
    assert probe.calls == 2  # one for the bare model's "x", one for the wrapper's miss


def test_several_generations_are_stored_and_returned_as_the_bare_model_returns_them():
    probe = Probe()
    cache = InMemoryCache()
    wrapper = CachedChatModel(TwoAnswersChat(probe=probe), cache)
    first = wrapper.generate([[HumanMessage("hi")]])
    second = wrapper.generate([[HumanMessage("hi")]])
    assert probe.calls == 1
    assert [g.text for g in first.generations[0]] == ["first", "second"]
    assert [g.text for g in second.generations[0]] == ["first", "second"]
    assert wrapper.invoke("hi").content == "first"
    assert joined(wrapper.stream("hi")) == "first"  # the first generation, as invoke


def test_the_wrapped_models_own_callbacks_still_fire():
    tokens = Tokens()
    wrapper = CachedChatModel(ScriptedChat(callbacks=[tokens]), InMemoryCache())
    list(wrapper.stream("hi"))
    assert "".join(tokens.tokens) == REPLY


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(TypeError, match="text-completion model: use CachedLLM"):
        CachedChatModel(FakeListLLM(responses=["x"]))
    with pytest.raises(TypeError, match="wrap the model first, then bind"):
        CachedChatModel(ScriptedChat().bind(stop=["x"]))
    with pytest.raises(TypeError, match="cache must be a LangChain BaseCache"):
        CachedChatModel(ScriptedChat(), cache=True)
    with pytest.raises(ConfigurationError, match="replay must be"):
        CachedChatModel(ScriptedChat(), replay="slow")
    with pytest.raises(ConfigurationError, match="coalesce='cluster' needs a CassandraCache"):
        CachedChatModel(ScriptedChat(), InMemoryCache(), coalesce="cluster")


def test_the_repr_shows_no_prompt():
    wrapper = CachedChatModel(ScriptedChat(), InMemoryCache())
    wrapper.invoke("SECRET question")
    assert "SECRET" not in repr(wrapper)


# -- LangChain's standard unit tests for chat models ---------------------------------------------


class CachedScripted(CachedChatModel):
    """The wrapper as the standard tests build models: from the wrapped model's parameters."""

    def __init__(self, **params):
        super().__init__(ScriptedChat(**params), InMemoryCache())


class TestCachedChatModelStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self):
        return CachedScripted

    @property
    def chat_model_params(self):
        return {"model_name": "scripted-1"}
