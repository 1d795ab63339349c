"""Real langchain-core models over the cache: the second identical call never reaches the model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from cassandra_llm_cache import CassandraCache


class CountingChatModel(BaseChatModel):
    """Answers with the next of its replies (``n`` generations each) and counts its calls."""

    replies: list[AIMessage]
    n: int = 1
    calls: int = 0

    def _generate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        reply = self.replies[self.calls % len(self.replies)]
        self.calls += 1
        generations = [
            ChatGeneration(
                message=reply.model_copy(update={"content": f"{reply.content} #{i}"}),
                generation_info={"index": i, "finish_reason": "stop"},
            )
            for i in range(self.n)
        ]
        return ChatResult(generations=generations)

    @property
    def _llm_type(self) -> str:
        return "counting-chat"


def tool_call_reply() -> AIMessage:
    return AIMessage(
        content=[{"type": "text", "text": "Let me check the weather."}],
        tool_calls=[
            {"name": "get_weather", "args": {"city": "Paris", "unit": "C"}, "id": "call_a"},
            {"name": "get_time", "args": {"tz": "Europe/Paris"}, "id": "call_b"},
        ],
        invalid_tool_calls=[{"name": "x", "args": "{oops", "id": "call_c", "error": "json"}],
        usage_metadata={"input_tokens": 20, "output_tokens": 10, "total_tokens": 30},
        response_metadata={"model_name": "counting-1", "finish_reason": "tool_calls"},
        additional_kwargs={"refusal": None},
    )


@pytest.fixture
def cache(cassandra_session, cassandra_keyspace, table_name):
    return CassandraCache(cassandra_session, cassandra_keyspace, table_name)


@pytest.fixture
def global_cache(cache):
    set_llm_cache(cache)
    try:
        yield cache
    finally:
        set_llm_cache(None)


def assert_same_reply(hit: AIMessage, miss: AIMessage) -> None:
    # On a hit langchain-core zeroes the cost: usage_metadata gains "total_cost": 0.
    assert hit.model_dump(exclude={"usage_metadata"}) == miss.model_dump(exclude={"usage_metadata"})
    assert hit.usage_metadata == {**(miss.usage_metadata or {}), "total_cost": 0}


def test_llm_through_set_llm_cache(global_cache):
    llm = FakeListLLM(responses=["first answer", "second answer"])
    assert llm.invoke("What is 2+2?") == "first answer"
    assert llm.invoke("What is 2+2?") == "first answer"
    assert llm.i == 1  # the model ran once
    assert llm.invoke("Another question") == "second answer"
    assert global_cache.stats().hits == 1


@pytest.mark.asyncio
async def test_llm_with_cache_argument_async(cache):
    llm = FakeListLLM(responses=["first answer", "second answer"], cache=cache)
    assert await llm.ainvoke("q", stop=["\n"]) == "first answer"
    assert await llm.ainvoke("q", stop=["\n"]) == "first answer"
    assert llm.i == 1
    assert await llm.ainvoke("q") == "second answer"  # other stop: another entry


def test_chat_model_with_tool_calls_sync(cache):
    model = CountingChatModel(replies=[tool_call_reply(), AIMessage("other")], cache=cache)
    messages = [SystemMessage("be terse"), HumanMessage("Weather in Paris?")]
    first = model.invoke(messages)
    second = model.invoke(messages)
    assert model.calls == 1
    assert isinstance(second, AIMessage)
    assert second.tool_calls == first.tool_calls
    assert second.invalid_tool_calls == first.invalid_tool_calls
    assert_same_reply(second, first)


@pytest.mark.asyncio
async def test_chat_model_through_set_llm_cache_async(global_cache):
    model = CountingChatModel(replies=[tool_call_reply()])
    first = await model.ainvoke("Weather in Paris?")
    second = await model.ainvoke("Weather in Paris?")
    assert model.calls == 1
    assert_same_reply(second, first)
    # Message ids do not take part in the key: a reworded id is still a hit.
    third = await model.ainvoke([HumanMessage("Weather in Paris?", id="another-id")])
    assert model.calls == 1
    assert_same_reply(third, first)


def test_all_n_generations_come_back(cache):
    model = CountingChatModel(replies=[AIMessage("draft")], n=3, cache=cache)
    first = model.generate([[HumanMessage("write three drafts")]])
    second = model.generate([[HumanMessage("write three drafts")]])
    assert model.calls == 1
    assert len(second.generations[0]) == 3
    for hit, miss in zip(second.generations[0], first.generations[0], strict=True):
        assert isinstance(hit, ChatGeneration)
        assert isinstance(miss, ChatGeneration)
        assert hit.generation_info == miss.generation_info
        assert hit.text == miss.text
        assert_same_reply(hit.message, miss.message)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_concurrent_batch_hits(cache):
    model = CountingChatModel(replies=[AIMessage(f"answer {i}") for i in range(20)], cache=cache)
    questions = [f"question {i}" for i in range(20)]
    first = await model.abatch(questions)
    assert model.calls == 20
    second = await model.abatch(questions)
    assert model.calls == 20
    assert [m.content for m in second] == [m.content for m in first]


def test_a_different_model_configuration_is_a_different_entry(cache):
    one = FakeListLLM(responses=["from one"], cache=cache)
    two = FakeListLLM(responses=["from two"], cache=cache)
    assert one.invoke("same prompt") == "from one"
    assert two.invoke("same prompt") == "from two"  # responses differ, so does llm_string
    assert one.invoke("same prompt") == "from one"
