"""Issue 16's checklist on a real node, for both of this package's caches.

The unit tests prove the wrappers' logic against LangChain's ``InMemoryCache``; these run the same
scenarios with the entries going through Cassandra and the codec: stream twice, astream twice,
invoke then stream and stream then invoke, nothing stored on an early stop or a model error, tool
calls round-trip, 20 concurrent ``astream`` calls and 8 threads calling ``invoke`` make one model
call, a cancelled leader leaves a follower that completes, and an LCEL chain streams a hit.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.load import dumps
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel

from cassandra_llm_cache import CachedChatModel, CassandraCache, CassandraSemanticCache
from cassandra_llm_cache.testing import DeterministicEmbeddings
from streaming_fakes import REPLY, WAIT, ModelError, Probe, ScriptedChat


class Adder(BaseModel):
    """Add two integers."""

    a: int
    b: int


@pytest.fixture(autouse=True)
def _no_global_cache():
    set_llm_cache(None)
    yield
    set_llm_cache(None)


@pytest.fixture(params=["exact", "semantic"])
def cache(request, cassandra_session, cassandra_keyspace, table_name):
    if request.param == "exact":
        return CassandraCache(
            session=cassandra_session, keyspace=cassandra_keyspace, table_name=table_name
        )
    return CassandraSemanticCache(
        session=cassandra_session,
        keyspace=cassandra_keyspace,
        table_name=table_name,
        embedding=DeterministicEmbeddings(dimension=16),
    )


def joined(chunks) -> str:
    return "".join(str(chunk.content) for chunk in chunks)


def summed(chunks):
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def stored(cache, model, question: str, **kwargs):
    """What the cache holds under LangChain's own key for the bare ``model``."""
    messages = [HumanMessage(question)]
    llm_string = model._get_llm_string(stop=None, **kwargs)
    return cache.lookup(dumps(messages), llm_string)


def test_stream_twice_makes_one_model_call_with_identical_content(cache):
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    first = list(wrapper.stream("Where is the fox?"))
    second = list(wrapper.stream("Where is the fox?"))
    assert probe.calls == 1
    assert joined(first) == joined(second) == REPLY
    assert len(second) > 2  # replayed in pieces, not one blob
    assert summed(second).usage_metadata["total_tokens"] == 12


@pytest.mark.asyncio
async def test_astream_twice_makes_one_model_call_with_identical_content(cache):
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    first = [chunk async for chunk in wrapper.astream("Where is the dog?")]
    second = [chunk async for chunk in wrapper.astream("Where is the dog?")]
    assert probe.calls == 1
    assert joined(first) == joined(second) == REPLY


def test_a_plain_invoke_serves_a_stream_and_a_stream_serves_a_plain_invoke(cache):
    probe = Probe()
    bare = ScriptedChat(probe=probe, cache=cache)
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    assert bare.invoke("first question").content == REPLY  # the bare model, LangChain's path
    assert joined(wrapper.stream("first question")) == REPLY
    assert joined(wrapper.stream("second question")) == REPLY
    assert bare.invoke("second question").content == REPLY
    assert probe.calls == 2


def test_an_early_stop_or_a_model_error_stores_nothing(cache):
    probe = Probe(fail_calls=(2,), fail_at_chunk=3)
    inner = ScriptedChat(probe=probe)
    wrapper = CachedChatModel(inner, cache)
    for chunk in wrapper.stream("stopped early"):
        assert chunk.content
        break
    assert stored(cache, inner, "stopped early") is None
    with pytest.raises(ModelError, match="at chunk 3"):
        list(wrapper.stream("fails mid-stream"))
    assert stored(cache, inner, "fails mid-stream") is None
    assert probe.calls == 2


def test_tool_calls_round_trip_as_tool_call_chunks(cache):
    probe = Probe()
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache).bind_tools([Adder])
    live = summed(list(wrapper.stream("add one and two")))
    replayed_chunks = list(wrapper.stream("add one and two"))
    replayed = summed(replayed_chunks)
    assert probe.calls == 1
    assert any(chunk.tool_call_chunks for chunk in replayed_chunks)
    assert replayed.tool_calls == live.tool_calls
    assert replayed.tool_calls[0]["args"] == {"a": 1, "b": 2}


@pytest.mark.asyncio
async def test_twenty_concurrent_astreams_make_one_model_call(cache):
    probe = Probe()
    release = asyncio.Event()
    probe.agates[0] = release  # the model's first chunk waits until all 20 have asked
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)

    async def one() -> str:
        return joined([chunk async for chunk in wrapper.astream("a popular question")])

    tasks = [asyncio.create_task(one()) for _ in range(20)]
    for _ in range(200):  # until every task has reached the flight (bounded)
        await asyncio.sleep(0.005)
        if probe.calls:
            break
    await asyncio.sleep(0.05)
    release.set()
    answers = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    assert answers == [REPLY] * 20
    assert probe.calls == 1


def test_eight_threads_calling_invoke_make_one_model_call(cache):
    probe = Probe()
    release = threading.Event()
    probe.gates[0] = release
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    barrier = threading.Barrier(8)
    answers: list[str] = []

    def one() -> None:
        barrier.wait(WAIT)
        answers.append(str(wrapper.invoke("the same question").content))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    probe_started = threading.Event()
    for _ in range(400):
        if probe.calls:
            probe_started.set()
            break
        threading.Event().wait(0.005)
    assert probe_started.is_set()
    threading.Event().wait(0.05)  # let the other seven join the flight before the model answers
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert answers == [REPLY] * 8
    assert probe.calls == 1


@pytest.mark.asyncio
async def test_a_cancelled_leader_leaves_a_follower_that_completes(cache):
    probe = Probe()
    first_chunk = asyncio.Event()
    probe.agates[1] = first_chunk  # the model stops after its first chunk until released
    wrapper = CachedChatModel(ScriptedChat(probe=probe), cache)
    leader_saw_a_chunk = asyncio.Event()

    async def leader() -> None:
        async for _ in wrapper.astream("cancel me"):
            leader_saw_a_chunk.set()

    async def follower() -> str:
        await leader_saw_a_chunk.wait()
        return joined([chunk async for chunk in wrapper.astream("cancel me")])

    leading = asyncio.create_task(leader())
    following = asyncio.create_task(follower())
    await asyncio.wait_for(leader_saw_a_chunk.wait(), WAIT)
    await asyncio.sleep(0.05)  # the follower joins the flight
    leading.cancel()
    first_chunk.set()
    assert await asyncio.wait_for(following, WAIT) == REPLY
    with pytest.raises(asyncio.CancelledError):
        await leading
    assert probe.calls == 1


def test_an_lcel_chain_streams_from_the_cache(cache):
    probe = Probe()
    prompt = ChatPromptTemplate.from_messages([("human", "Tell me about {topic}")])
    chain = prompt | CachedChatModel(ScriptedChat(probe=probe), cache) | StrOutputParser()
    assert "".join(chain.stream({"topic": "foxes"})) == REPLY
    pieces = list(chain.stream({"topic": "foxes"}))
    assert "".join(pieces) == REPLY
    assert len(pieces) > 2
    assert probe.calls == 1
