"""Which part of a cache prompt is compared by meaning and which must match exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from cassandra_llm_cache._semantic.prompt_text import SemanticPrompt, split_prompt


def test_a_plain_prompt_is_all_text():
    assert split_prompt("What is Cassandra?") == SemanticPrompt("What is Cassandra?", "")


def test_a_chat_prompt_embeds_the_last_question_only():
    prompt = dumps([SystemMessage("Be brief."), HumanMessage("What is Cassandra?")])
    parts = split_prompt(prompt)
    assert parts.text == "What is Cassandra?"
    assert "Be brief." in parts.context
    assert "What is Cassandra?" not in parts.context


def test_the_context_tells_conversations_apart_and_ignores_the_question():
    def context(system: str, question: str) -> str:
        return split_prompt(dumps([SystemMessage(system), HumanMessage(question)])).context

    assert context("Be brief.", "A?") == context("Be brief.", "B?")
    assert context("Be brief.", "A?") != context("Answer in French.", "A?")
    history = dumps([HumanMessage("Hi"), AIMessage("Hello!"), HumanMessage("A?")])
    assert split_prompt(history).context != context("Be brief.", "A?")


def test_non_text_blocks_stay_in_the_context():
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    prompt = dumps([HumanMessage(content=[{"type": "text", "text": "Describe it"}, image])])
    parts = split_prompt(prompt)
    assert parts.text == "Describe it"
    assert "example.com/a.png" in parts.context


def test_a_conversation_not_ending_with_a_question_is_matched_exactly():
    prompt = dumps([HumanMessage("run it"), ToolMessage("42", tool_call_id="t1")])
    assert split_prompt(prompt) == SemanticPrompt("", prompt)


def test_text_that_merely_looks_like_json_is_text():
    for prompt in ('[{"lc": broken', '[{"lc": 1}]', '[{"lc": 1, "id": [], "kwargs": {}}]'):
        assert split_prompt(prompt) == SemanticPrompt(prompt)


@given(st.text())
def test_any_string_splits(prompt):
    parts = split_prompt(prompt)
    assert parts.text in prompt or parts.text == ""
