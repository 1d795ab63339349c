"""Legacy values: written exactly as the old class writes them, read with an allow-list."""

from __future__ import annotations

import json
import warnings

import pytest
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.prompts import PromptTemplate

from cassandra_llm_cache._storage.legacy import decode_body, encode_body
from cassandra_llm_cache._values.codec import DecodeError, EncodeError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.cache import _dumps_generations, _loads_generations


def chat_generations() -> list[Generation]:
    message = AIMessage(
        content=[{"type": "text", "text": "hi"}],
        id="m1",
        tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}],
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        response_metadata={"model_name": "m", "lc": 1},  # user data that looks serialized
        additional_kwargs={"k": {"lc": 1, "type": "constructor", "id": ["x"]}},
    )
    return [
        ChatGeneration(message=message, generation_info={"finish_reason": "stop"}),
        Generation(text="plain", generation_info={"a": [1, 2]}),
    ]


def test_body_is_exactly_what_the_legacy_class_writes():
    generations = chat_generations()
    assert encode_body(generations) == _dumps_generations(generations)


def test_reads_what_the_legacy_class_writes_and_agrees_with_its_reader():
    generations = chat_generations()
    body = _dumps_generations(generations)
    decoded = decode_body(body)
    assert decoded == generations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert decoded == _loads_generations(body)


def test_reads_the_oldest_plain_format():
    body = json.dumps([{"text": "old", "generation_info": {"a": 1}}])
    assert decode_body(body) == [Generation(text="old", generation_info={"a": 1})]


def _body_with(node: object) -> str:
    return json.dumps([json.dumps(node)])


@pytest.mark.parametrize(
    "body",
    [
        None,
        "not json",
        "{}",
        json.dumps([1, 2]),
        json.dumps([{"text": "x", "evil": 1}]),
        _body_with({"lc": 1, "type": "constructor", "id": ["os", "system"], "kwargs": {}}),
        _body_with(
            {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain_core", "prompts", "prompt", "PromptTemplate"],
                "kwargs": {"template": "{x}", "input_variables": ["x"]},
            }
        ),
        _body_with({"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}),
        _body_with({"lc": 1, "type": "not_implemented", "id": ["x"], "repr": "<obj>"}),
        _body_with({"lc": 1, "type": "constructor", "id": "Generation", "kwargs": {}}),
        _body_with({"plain": "dict"}),
    ],
)
def test_anything_outside_the_allow_list_is_unreadable(body):
    with pytest.raises(DecodeError):
        decode_body(body)


def test_a_real_serialized_non_generation_is_refused():
    template = PromptTemplate.from_template("{x}")
    with pytest.raises(DecodeError):
        decode_body(json.dumps([dumps(template)]))


def test_nested_messages_are_rebuilt_as_classes():
    body = json.dumps([dumps(ChatGeneration(message=HumanMessage("q", id="h")))])
    (decoded,) = decode_body(body)
    assert isinstance(decoded, ChatGeneration)
    assert type(decoded.message) is HumanMessage


def test_unstorable_values_are_refused_as_in_the_new_layout():
    with pytest.raises(EncodeError):
        encode_body([Generation(text="x", generation_info={"o": object()})])
