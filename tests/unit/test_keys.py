"""Keys: digests, the legacy key, and the exact (prompt, llm_string) pair langchain-core uses."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import ChatPromptValue

from cassandra_llm_cache._values.keys import (
    langchain_cache_key,
    legacy_key_vals,
    md5_hex,
    sha256_key,
)


class RecordingCache(InMemoryCache):
    """Records the keys langchain-core itself looks entries up with."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[tuple[str, str]] = []

    def lookup(self, prompt: str, llm_string: str) -> Any:
        self.keys.append((prompt, llm_string))
        return super().lookup(prompt, llm_string)


class SerializableFakeChat(FakeListChatModel):
    """A chat model langchain-core keys by its serialized form (the path real providers take)."""

    temperature: float = 0.5

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True


def test_digests_are_of_the_utf8_text():
    assert sha256_key("héllo") == hashlib.sha256("héllo".encode()).digest()
    assert md5_hex("hello") == "5d41402abc4b2a76b9719d911017c592"


def test_lone_surrogates_hash_deterministically_and_differently():
    assert sha256_key("a\udc80") == sha256_key("a\udc80")
    assert sha256_key("a\udc80") != sha256_key("a\udc81")
    assert sha256_key("a\udc80") != sha256_key("a?")


def test_legacy_key_vals_matches_the_documented_example():
    assert legacy_key_vals("hello", "llmstr") == (
        '["95405c669fcde44d0e6a1a59e6787734","5d41402abc4b2a76b9719d911017c592"]'
    )


def test_llm_key_is_the_one_langchain_core_uses():
    cache = RecordingCache()
    llm = FakeListLLM(responses=["a"], cache=cache)
    llm.invoke("the prompt", stop=["\n"])
    assert langchain_cache_key("the prompt", llm, ["\n"]) == cache.keys[-1]
    assert langchain_cache_key("the prompt", llm) != cache.keys[-1]  # stop is part of the key


def test_llm_given_messages_is_keyed_on_their_buffer_string():
    cache = RecordingCache()
    llm = FakeListLLM(responses=["a"], cache=cache)
    messages = [SystemMessage("be brief"), HumanMessage("hi")]
    llm.invoke(messages)
    assert langchain_cache_key(messages, llm) == cache.keys[-1]


@pytest.mark.parametrize(
    "model_input",
    [
        "a question",
        [("system", "be brief"), ("human", "a question")],
        [SystemMessage("be brief", id="s-1"), HumanMessage("a question", id="h-9")],
        ChatPromptValue(messages=[HumanMessage("a question")]),
    ],
    ids=["str", "tuples", "messages-with-ids", "prompt-value"],
)
def test_chat_key_is_the_one_langchain_core_uses(model_input):
    cache = RecordingCache()
    model = GenericFakeChatModel(messages=iter(["x", "y"]), cache=cache)
    model.invoke(model_input)
    assert langchain_cache_key(model_input, model) == cache.keys[-1]


def test_serializable_chat_model_key_includes_stop_and_call_kwargs():
    cache = RecordingCache()
    model = SerializableFakeChat(responses=["x"], cache=cache)
    model.invoke("q", stop=["END"], max_tokens=5)
    expected = cache.keys[-1]
    assert langchain_cache_key("q", model, ["END"], max_tokens=5) == expected
    assert langchain_cache_key("q", model, ["END"]) != expected
    assert '"temperature": 0.5' in expected[1]


def test_bound_model_contributes_its_bound_arguments():
    cache = RecordingCache()
    model = SerializableFakeChat(responses=["x"], cache=cache)
    bound = model.bind(stop=["STOP"], max_tokens=3)
    bound.invoke("q")
    assert langchain_cache_key("q", bound) == cache.keys[-1]


def test_message_ids_do_not_change_the_chat_prompt_key():
    model = GenericFakeChatModel(messages=iter([]))
    with_id = langchain_cache_key([AIMessage("a", id="1"), HumanMessage("b", id="2")], model)
    without = langchain_cache_key([AIMessage("a"), HumanMessage("b")], model)
    assert with_id == without


def test_not_a_model_is_a_type_error():
    with pytest.raises(TypeError, match="LLM or chat model"):
        langchain_cache_key("q", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="prompt must be"):
        langchain_cache_key(42, FakeListLLM(responses=["a"]))
